/**
 * containerd's event envelopes as gRPC decodes them (docs/protocols.md,
 * "containerd"), and the container and task records the source reads. Pure
 * functions; bad input throws a SyntaxError or TypeError naming what is
 * wrong.
 *
 * @module
 */
import { quotedPreview } from "../../support/preview.ts";
import { CONTAINERD_PROTO_ROOT } from "./containerd_protos.ts";

/** A container as Containers/Get and List return it (only the fields we declare). */
export interface ContainerRecord {
  /** The container id. */
  readonly id: string;
  /** Its labels. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A task's process as Tasks/Get and List return it. */
export interface ProcessRecord {
  /** The container it belongs to (Tasks/List leaves it empty). */
  readonly container_id: string;
  /** The process id: the container id for a task's init process. */
  readonly id: string;
  /** Its status: "RUNNING", "STOPPED", … */
  readonly status: string;
}

/** An event envelope as the Subscribe stream yields it. */
export interface EnvelopeRecord {
  /** The namespace the event happened in. */
  readonly namespace: string;
  /** Its topic, e.g. "/tasks/start". */
  readonly topic: string;
  /** The payload: a google.protobuf.Any. */
  readonly event:
    | { readonly type_url: string; readonly value: Uint8Array }
    | null;
}

/** The topics the source subscribes to. */
export const CONTAINERD_TOPICS: readonly string[] = [
  "/tasks/create",
  "/tasks/start",
  "/tasks/exit",
  "/tasks/delete",
  "/containers/update",
  "/containers/delete",
];

/** The payload type of each topic the source subscribes to. */
export const PAYLOAD_TYPES: Readonly<Record<string, string>> = {
  "/tasks/create": "containerd.events.TaskCreate",
  "/tasks/start": "containerd.events.TaskStart",
  "/tasks/exit": "containerd.events.TaskExit",
  "/tasks/delete": "containerd.events.TaskDelete",
  "/containers/update": "containerd.events.ContainerUpdate",
  "/containers/delete": "containerd.events.ContainerDelete",
};

/** One event the source acts on, in the namespace it came from. */
export type ContainerdEvent =
  & {
    /** The namespace of the container. */
    readonly namespace: string;
    /** The container id. */
    readonly containerId: string;
  }
  & (
    | {
      /** The container's task was created; it starts soon: its labels can be read ahead. */
      readonly kind: "created";
    }
    | {
      /** The container's task started: read its ports. */
      readonly kind: "started";
    }
    | {
      /** The init process exited or the task was deleted: its ports go. */
      readonly kind: "stopped";
    }
    | {
      /** An exec process exited: the container's ports stay. */
      readonly kind: "exec-exited";
      /** The exec id. */
      readonly execId: string;
    }
    | {
      /** The container's labels changed: re-read its ports. */
      readonly kind: "updated";
    }
    | {
      /** The container was deleted: its ports go. */
      readonly kind: "deleted";
    }
  );

/** containerd's identifier rule (namespaces and container ids). */
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const MAX_IDENTIFIER_LENGTH = 76;

/** Whether `text` is a valid containerd namespace or container id. */
export function isContainerdIdentifier(text: unknown): text is string {
  return typeof text === "string" && text.length <= MAX_IDENTIFIER_LENGTH &&
    IDENTIFIER.test(text);
}

/**
 * Decodes one envelope of the event stream. Returns undefined for topics
 * the source does not act on.
 *
 * @param envelope What the Subscribe stream yielded.
 * @throws {TypeError} When the namespace, payload type or container id is not usable.
 * @throws {SyntaxError} When the payload bytes do not decode.
 */
export function parseContainerdEvent(
  envelope: EnvelopeRecord,
): ContainerdEvent | undefined {
  const { namespace, topic, event } = envelope;
  const payloadType = PAYLOAD_TYPES[topic];
  if (payloadType === undefined) return undefined;
  if (!isContainerdIdentifier(namespace)) {
    throw new TypeError(
      `Cannot use containerd ${topic} event: namespace ${
        quotedPreview(namespace)
      } is not a containerd identifier`,
    );
  }
  const typeUrl = event?.type_url ?? "";
  if (typeUrl !== payloadType && !typeUrl.endsWith(`/${payloadType}`)) {
    throw new TypeError(
      `Cannot use containerd ${topic} event in namespace ${namespace}: payload type ${
        quotedPreview(typeUrl)
      }, expected ${payloadType}`,
    );
  }
  let payload: Record<string, unknown>;
  try {
    const type = CONTAINERD_PROTO_ROOT.lookupType(payloadType);
    // A plain view, not a Buffer: protobufjs' Buffer reader clips a string
    // that runs past the end instead of failing on it.
    const { value } = event!;
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.length);
    payload = type.toObject(type.decode(bytes), { defaults: true });
  } catch (error) {
    throw new SyntaxError(
      `Cannot decode containerd ${topic} event in namespace ${namespace}: ${
        (error as Error).message
      }`,
    );
  }
  const containerId = topic.startsWith("/tasks/")
    ? payload.container_id
    : payload.id;
  if (!isContainerdIdentifier(containerId)) {
    throw new TypeError(
      `Cannot use containerd ${topic} event in namespace ${namespace}: container id ${
        quotedPreview(containerId)
      } is not a containerd identifier`,
    );
  }
  const base = { namespace, containerId };
  switch (topic) {
    case "/tasks/create":
      return { ...base, kind: "created" };
    case "/tasks/start":
      return { ...base, kind: "started" };
    case "/tasks/exit":
    case "/tasks/delete": {
      // The exec id: the container id (or, on delete, empty) for the init
      // process; anything else is an exec whose end keeps the ports.
      const execId = String(payload.id ?? "");
      return execId === "" || execId === containerId
        ? { ...base, kind: "stopped" }
        : { ...base, kind: "exec-exited", execId };
    }
    case "/containers/update":
      return { ...base, kind: "updated" };
    default:
      return { ...base, kind: "deleted" };
  }
}

/** Task statuses whose container's ports are live (paused keeps its network). */
const LIVE_STATUSES = new Set(["RUNNING", "PAUSED", "PAUSING"]);

/** Whether a task in `status` keeps its container's ports published. */
export function isLiveTask(status: string): boolean {
  return LIVE_STATUSES.has(status);
}
