/**
 * Parsing for the containerd source (docs/protocols.md, "containerd"): event envelopes as
 * gRPC decodes them, and published ports from the `nerdctl/ports` label or
 * nerdctl's `network-config.json`. Pure functions; bad input throws a
 * SyntaxError or TypeError naming what is wrong.
 *
 * @module
 */
import {
  bindingKey,
  makeBinding,
  type PortEntry,
} from "../../tracker/binding.ts";
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

const PAYLOAD_TYPES: Readonly<Record<string, string>> = {
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

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? "";
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
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
        preview(namespace)
      } is not a containerd identifier`,
    );
  }
  const typeUrl = event?.type_url ?? "";
  if (typeUrl !== payloadType && !typeUrl.endsWith(`/${payloadType}`)) {
    throw new TypeError(
      `Cannot use containerd ${topic} event in namespace ${namespace}: payload type ${
        preview(typeUrl)
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
        preview(containerId)
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

/** The label nerdctl (before 2.1.3) keeps the published ports in. */
export const PORTS_LABEL = "nerdctl/ports";
/** The label naming nerdctl's per-container state directory. */
export const STATE_DIR_LABEL = "nerdctl/state-dir";
/** The label holding the nerdctl container name. */
export const NAME_LABEL = "nerdctl/name";
/** The file in the state directory that nerdctl ≥ 2.1.3 keeps ports in. */
export const NETWORK_CONFIG_FILE = "network-config.json";
/** Largest label or network-config.json accepted, in bytes of text. */
export const MAX_PORTS_TEXT = 1 << 20;
const MAX_MAPPINGS = 65_536;

/** Who owns a container's entries in the tracker. */
export interface ContainerOwner {
  /** `<namespace>/<id>`: ids are unique only within a namespace. */
  readonly ownerId: string;
  /** The container's namespace. */
  readonly namespace: string;
  /** The container id. */
  readonly id: string;
  /** nerdctl's name for it, else its id. */
  readonly name: string;
}

/** The owner of `container` in `namespace`. */
export function containerOwner(
  namespace: string,
  container: ContainerRecord,
): ContainerOwner {
  const name = container.labels[NAME_LABEL];
  return {
    ownerId: `${namespace}/${container.id}`,
    namespace,
    id: container.id,
    name: typeof name === "string" && name !== "" && name.length <= 128
      ? name
      : container.id,
  };
}

/** Where a container's published ports are to be read from. */
export type PortsLocation =
  | {
    /** In the `nerdctl/ports` label. */
    readonly kind: "label";
    /** The label's text. */
    readonly text: string;
  }
  | {
    /** In `<dir>/network-config.json`. */
    readonly kind: "state-dir";
    /** The state directory. */
    readonly dir: string;
  }
  | {
    /** The container publishes nothing we know of. */
    readonly kind: "none";
  };

/** Where to read the ports of a container with these labels. */
export function portsLocation(
  labels: Readonly<Record<string, string>>,
): PortsLocation {
  const text = labels[PORTS_LABEL];
  if (typeof text === "string") return { kind: "label", text };
  const dir = labels[STATE_DIR_LABEL];
  if (typeof dir === "string" && dir !== "") return { kind: "state-dir", dir };
  return { kind: "none" };
}

/** A container's entries, and the mappings skipped with their reasons. */
export interface ContainerPorts {
  /** One entry per distinct published binding. */
  readonly entries: PortEntry[];
  /** Mappings skipped, each with the reason. */
  readonly skipped: string[];
}

function mappingEntry(item: unknown, owner: ContainerOwner): PortEntry {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw new TypeError(`${preview(item)} is not an object`);
  }
  const { HostPort, ContainerPort, Protocol, HostIP } = item as Record<
    string,
    unknown
  >;
  if (typeof HostPort !== "number") {
    throw new TypeError(`HostPort ${preview(HostPort)} is not a number`);
  }
  if (typeof Protocol !== "string") {
    throw new TypeError(`Protocol ${preview(Protocol)} is not a string`);
  }
  if (HostIP !== undefined && HostIP !== null && typeof HostIP !== "string") {
    throw new TypeError(`HostIP ${preview(HostIP)} is not a string`);
  }
  const binding = makeBinding(Protocol, HostIP ?? "", HostPort);
  const entry: PortEntry = {
    ownerId: owner.ownerId,
    binding,
    name: owner.name,
    namespace: owner.namespace,
  };
  return Number.isInteger(ContainerPort) && (ContainerPort as number) >= 1 &&
      (ContainerPort as number) <= 65535
    ? { ...entry, containerPort: ContainerPort as number }
    : entry;
}

/**
 * Turns a list of nerdctl port mappings
 * (`{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}`)
 * into entries. A bad mapping (wrong types, port out of range, a protocol
 * other than tcp/udp, a bad address) is skipped and reported; the rest stay.
 *
 * @param mappings The parsed list.
 * @param owner Whose entries they are.
 * @throws {TypeError} When `mappings` is not a list or is too long.
 */
export function parsePortMappings(
  mappings: unknown,
  owner: ContainerOwner,
): ContainerPorts {
  if (!Array.isArray(mappings)) {
    throw new TypeError(`port mappings are ${preview(mappings)}, not a list`);
  }
  if (mappings.length > MAX_MAPPINGS) {
    throw new TypeError(
      `${mappings.length} port mappings is more than the ${MAX_MAPPINGS} accepted`,
    );
  }
  const entries = new Map<string, PortEntry>();
  const skipped: string[] = [];
  mappings.forEach((item, index) => {
    try {
      const entry = mappingEntry(item, owner);
      const key = bindingKey(entry.binding);
      if (!entries.has(key)) entries.set(key, entry);
    } catch (error) {
      skipped.push(`mapping ${index}: ${(error as Error).message}`);
    }
  });
  return { entries: [...entries.values()], skipped };
}

function parseJsonText(text: string, what: string): unknown {
  if (text.length > MAX_PORTS_TEXT) {
    throw new TypeError(
      `${what} is ${text.length} characters, more than the ${MAX_PORTS_TEXT} accepted`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError(`${what} is not JSON: ${preview(text)}`);
  }
}

/**
 * The ports in a `nerdctl/ports` label.
 *
 * @throws {SyntaxError} When the label is not JSON.
 * @throws {TypeError} When it is not a list of mappings, or too large.
 */
export function parseNerdctlPortsLabel(
  text: string,
  owner: ContainerOwner,
): ContainerPorts {
  return parsePortMappings(
    parseJsonText(text, `label ${PORTS_LABEL}`),
    owner,
  );
}

/**
 * The ports in nerdctl's `network-config.json` (`{"portMappings":[…]}`); a
 * file without `portMappings` publishes nothing.
 *
 * @throws {SyntaxError} When the file is not JSON.
 * @throws {TypeError} When it is not an object or `portMappings` is not a list.
 */
export function parseNetworkConfig(
  text: string,
  owner: ContainerOwner,
): ContainerPorts {
  const config = parseJsonText(text, NETWORK_CONFIG_FILE);
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TypeError(`${NETWORK_CONFIG_FILE} is not an object`);
  }
  const mappings = (config as Record<string, unknown>).portMappings;
  if (mappings === undefined || mappings === null) {
    return { entries: [], skipped: [] };
  }
  return parsePortMappings(mappings, owner);
}
