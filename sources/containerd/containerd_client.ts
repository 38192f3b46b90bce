/**
 * A small containerd gRPC client over its unix socket: health, the event
 * stream, and the list/get calls the source needs, each call scoped to a
 * namespace with the `containerd-namespace` header.
 *
 * @module
 */
import {
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status as grpcStatus,
} from "@grpc/grpc-js";
import { CONTAINERD_PACKAGE_DEFINITION } from "./containerd_protos.ts";
import type {
  ContainerRecord,
  EnvelopeRecord,
  ProcessRecord,
} from "./parse_event.ts";

/** How long one unary call may take before it fails. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * The largest reply accepted: containerd's own send limit (its default
 * MaxSendMsgSize, 16 MiB). grpc-js's default of 4 MiB refused a container
 * with ~4.8 MB of labels, each within containerd's per-label limit.
 */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** Whether a gRPC error means a reply was over {@linkcode MAX_REPLY_BYTES}. */
export function isTooLarge(error: unknown): boolean {
  return (error as ServiceError | undefined)?.code ===
    grpcStatus.RESOURCE_EXHAUSTED;
}

type Callback<T> = (error: ServiceError | null, value?: T) => void;
type UnaryMethod = (
  request: unknown,
  metadata: Metadata,
  options: CallOptions,
  callback: Callback<unknown>,
) => ClientUnaryCall;
type StreamMethod = (
  request: unknown,
  metadata: Metadata,
) => ClientReadableStream<unknown>;
interface ServiceClient {
  close(): void;
  [method: string]: unknown;
}
type ServiceConstructor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: Record<string, number>,
) => ServiceClient;

function serviceConstructor(path: string): ServiceConstructor {
  // deno-lint-ignore no-explicit-any
  let node: any = loadPackageDefinition(CONTAINERD_PACKAGE_DEFINITION);
  for (const part of path.split(".")) node = node?.[part];
  if (typeof node !== "function") {
    throw new TypeError(
      `Cannot find gRPC service ${path}: it is not in proto/`,
    );
  }
  return node as ServiceConstructor;
}

const SERVICES = {
  health: "grpc.health.v1.Health",
  events: "containerd.services.events.v1.Events",
  containers: "containerd.services.containers.v1.Containers",
  tasks: "containerd.services.tasks.v1.Tasks",
  namespaces: "containerd.services.namespaces.v1.Namespaces",
} as const;

/** Whether a gRPC error means "no such object". */
export function isNotFound(error: unknown): boolean {
  return (error as ServiceError | undefined)?.code === grpcStatus.NOT_FOUND;
}

/** An open subscription: its envelopes, and how to end it. */
export interface EventSubscription extends AsyncIterable<EnvelopeRecord> {
  /** Ends the stream (the iterator then finishes with a CANCELLED error). */
  cancel(): void;
}

/** The containerd API over one unix socket. */
export class ContainerdClient {
  readonly #clients: Record<keyof typeof SERVICES, ServiceClient>;

  /** Opens no connection yet; the first call connects. */
  constructor(socketPath: string) {
    const address = `unix://${socketPath}`;
    const insecure = credentials.createInsecure();
    this.#clients = Object.fromEntries(
      Object.entries(SERVICES).map((
        [key, path],
      ) => [
        key,
        new (serviceConstructor(path))(address, insecure, {
          "grpc.max_receive_message_length": MAX_REPLY_BYTES,
        }),
      ]),
    ) as Record<keyof typeof SERVICES, ServiceClient>;
  }

  #unary<T>(
    service: keyof typeof SERVICES,
    method: string,
    request: unknown,
    namespace: string | undefined,
    signal: AbortSignal,
  ): Promise<T> {
    const client = this.#clients[service];
    const call = client[method] as UnaryMethod;
    const metadata = new Metadata();
    if (namespace !== undefined) {
      metadata.set("containerd-namespace", namespace);
    }
    return new Promise<T>((resolve, reject) => {
      signal.throwIfAborted();
      const pending = call.call(
        client,
        request,
        metadata,
        { deadline: Date.now() + CALL_TIMEOUT_MS },
        (error, value) => {
          signal.removeEventListener("abort", onAbort);
          if (error) reject(error);
          else resolve(value as T);
        },
      );
      const onAbort = () => pending.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** grpc.health.v1 Check of the whole server: "SERVING" when it is up. */
  async health(signal: AbortSignal): Promise<string> {
    const reply = await this.#unary<{ status: string }>(
      "health",
      "Check",
      { service: "" },
      undefined,
      signal,
    );
    return reply.status;
  }

  /** Subscribes to `topics` in every namespace. */
  subscribe(topics: readonly string[]): EventSubscription {
    const client = this.#clients.events;
    const stream = (client.Subscribe as StreamMethod).call(
      client,
      { filters: topics.map((topic) => `topic==${JSON.stringify(topic)}`) },
      new Metadata(),
    );
    // The stream's errors reach the reader through its iterator. A session
    // that fails before it reads (containerd not serving yet, a list that
    // fails) cancels a stream nobody iterates, and a Node stream's "error"
    // without a listener is thrown as an uncaught error: this one is that
    // listener.
    stream.on("error", () => {});
    return {
      cancel: () => stream.cancel(),
      [Symbol.asyncIterator]: () =>
        (stream as unknown as AsyncIterable<EnvelopeRecord>)[
          Symbol.asyncIterator
        ](),
    };
  }

  /** The names of every namespace. */
  async listNamespaces(signal: AbortSignal): Promise<string[]> {
    const reply = await this.#unary<{ namespaces: { name: string }[] }>(
      "namespaces",
      "List",
      { filter: "" },
      undefined,
      signal,
    );
    return reply.namespaces.map((namespace) => namespace.name);
  }

  /** The containers of one namespace that match any of `filters`. */
  async listContainers(
    namespace: string,
    filters: readonly string[],
    signal: AbortSignal,
  ): Promise<ContainerRecord[]> {
    const reply = await this.#unary<{ containers: ContainerRecord[] }>(
      "containers",
      "List",
      { filters },
      namespace,
      signal,
    );
    return reply.containers;
  }

  /** Every task (init process) of one namespace. */
  async listTasks(
    namespace: string,
    signal: AbortSignal,
  ): Promise<ProcessRecord[]> {
    const reply = await this.#unary<{ tasks: ProcessRecord[] }>(
      "tasks",
      "List",
      { filter: "" },
      namespace,
      signal,
    );
    return reply.tasks;
  }

  /** One container, or undefined when it does not exist (any more). */
  async getContainer(
    namespace: string,
    id: string,
    signal: AbortSignal,
  ): Promise<ContainerRecord | undefined> {
    const reply = await this.#getUnlessMissing<
      { container: ContainerRecord | null }
    >("containers", { id }, namespace, signal);
    return reply?.container ?? undefined;
  }

  /** A container's task, or undefined when it has none. */
  async getTask(
    namespace: string,
    containerId: string,
    signal: AbortSignal,
  ): Promise<ProcessRecord | undefined> {
    const reply = await this.#getUnlessMissing<
      { process: ProcessRecord | null }
    >("tasks", { container_id: containerId, exec_id: "" }, namespace, signal);
    return reply?.process ?? undefined;
  }

  /** A Get call whose NOT_FOUND is undefined, not an error. */
  async #getUnlessMissing<T>(
    service: "containers" | "tasks",
    request: unknown,
    namespace: string,
    signal: AbortSignal,
  ): Promise<T | undefined> {
    try {
      return await this.#unary<T>(service, "Get", request, namespace, signal);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Closes every channel. */
  close(): void {
    for (const client of Object.values(this.#clients)) client.close();
  }
}
