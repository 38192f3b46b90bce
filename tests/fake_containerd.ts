/**
 * An in-process containerd for the watcher's unit tests: a real gRPC server
 * (grpc-js) on a unix socket serving the calls the containerd source makes
 * (health, Subscribe, Namespaces/List, Containers/List and Get, Tasks/List
 * and Get) from the same .proto files, over a store the test edits. It
 * repeats our reading of the API; tests/containerd_e2e_test.ts runs the
 * source against a real containerd driven by `ctr`. What only a fake can
 * do: break the event stream on demand and count the calls.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  loadPackageDefinition,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  status as grpcStatus,
} from "@grpc/grpc-js";
import {
  CONTAINERD_PACKAGE_DEFINITION,
  CONTAINERD_PROTO_ROOT,
} from "../sources/containerd/containerd_protos.ts";
import { PAYLOAD_TYPES } from "../sources/containerd/parse_event.ts";

type Labels = Record<string, string>;
type Reply = (
  error: { code: number; details: string } | null,
  value?: unknown,
) => void;
// deno-lint-ignore no-explicit-any
type Call = ServerUnaryCall<any, unknown>;

/** A container of the fake store, with its task's status when it has one. */
interface StoredContainer {
  labels: Labels;
  task?: "RUNNING" | "STOPPED" | "CREATED";
}

function namespaceOf(call: { metadata: Metadata }): string {
  return String(call.metadata.get("containerd-namespace")[0] ?? "");
}

/** The label names a List filter such as `labels."nerdctl/ports"` asks for. */
function filteredLabels(filters: readonly string[]): string[] {
  return filters.flatMap((filter) => {
    const match = /^labels\.(".*")$/.exec(filter);
    return match ? [JSON.parse(match[1]!) as string] : [];
  });
}

/** A fake containerd listening on a unix socket. */
export class FakeContainerd {
  /** Containers by namespace, then id. */
  readonly namespaces = new Map<string, Map<string, StoredContainer>>();
  /** Each call, as `Service/Method namespace`. */
  readonly calls: string[] = [];
  /** The socket's path. */
  readonly path: string;
  readonly #server: Server;
  readonly #streams = new Set<ServerWritableStream<unknown, unknown>>();
  #health = "SERVING";

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /** Starts serving on `path` (removed first when it exists). */
  static async start(path: string): Promise<FakeContainerd> {
    await Deno.remove(path).catch(() => {});
    const server = new Server();
    const fake = new FakeContainerd(path, server);
    fake.#addServices();
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(
        `unix://${path}`,
        ServerCredentials.createInsecure(),
        (error) => error ? reject(error) : resolve(),
      )
    );
    return fake;
  }

  #addServices(): void {
    // deno-lint-ignore no-explicit-any
    const api: any = loadPackageDefinition(CONTAINERD_PACKAGE_DEFINITION);
    const unary =
      (name: string, handle: (call: Call) => unknown) =>
      (call: Call, reply: Reply) => {
        this.calls.push(`${name} ${namespaceOf(call)}`.trim());
        try {
          reply(null, handle(call));
        } catch (error) {
          reply({
            code: grpcStatus.NOT_FOUND,
            details: (error as Error).message,
          });
        }
      };
    this.#server.addService(api.grpc.health.v1.Health.service, {
      Check: unary("Health/Check", () => ({ status: this.#health })),
    });
    this.#server.addService(api.containerd.services.events.v1.Events.service, {
      Subscribe: (call: ServerWritableStream<unknown, unknown>) => {
        this.calls.push("Events/Subscribe");
        this.#streams.add(call);
        call.on("cancelled", () => this.#streams.delete(call));
      },
    });
    this.#server.addService(
      api.containerd.services.namespaces.v1.Namespaces.service,
      {
        List: unary("Namespaces/List", () => ({
          namespaces: [...this.namespaces.keys()].map((name) => ({ name })),
        })),
      },
    );
    this.#server.addService(
      api.containerd.services.containers.v1.Containers.service,
      {
        List: unary("Containers/List", (call) => {
          const wanted = filteredLabels(call.request.filters ?? []);
          return {
            containers: [...this.#containersOf(namespaceOf(call))]
              .filter(([, c]) =>
                wanted.length === 0 || wanted.some((l) => l in c.labels)
              )
              .map(([id, c]) => ({ id, labels: c.labels })),
          };
        }),
        Get: unary("Containers/Get", (call) => {
          const id = call.request.id as string;
          const found = this.#containersOf(namespaceOf(call)).get(id);
          if (!found) throw new Error(`container "${id}": not found`);
          return { container: { id, labels: found.labels } };
        }),
      },
    );
    this.#server.addService(api.containerd.services.tasks.v1.Tasks.service, {
      List: unary("Tasks/List", (call) => ({
        // As containerd does: the container's id in `id`, container_id empty.
        tasks: [...this.#containersOf(namespaceOf(call))]
          .filter(([, c]) => c.task !== undefined)
          .map(([id, c]) => ({ id, container_id: "", status: c.task, pid: 1 })),
      })),
      Get: unary("Tasks/Get", (call) => {
        const id = call.request.container_id as string;
        const found = this.#containersOf(namespaceOf(call)).get(id);
        if (found?.task === undefined) throw new Error(`task ${id}: not found`);
        return {
          process: { id, container_id: id, status: found.task, pid: 1 },
        };
      }),
    });
  }

  /** A namespace's containers; reading one that does not exist creates nothing. */
  #containersOf(namespace: string): ReadonlyMap<string, StoredContainer> {
    return this.namespaces.get(namespace) ?? new Map();
  }

  /** Puts a container in the store (replacing one with its id). */
  put(namespace: string, id: string, container: StoredContainer): void {
    let containers = this.namespaces.get(namespace);
    if (!containers) {
      containers = new Map();
      this.namespaces.set(namespace, containers);
    }
    containers.set(id, container);
  }

  /** Takes a container out of the store. */
  delete(namespace: string, id: string): void {
    this.namespaces.get(namespace)?.delete(id);
  }

  /** What Health/Check answers. */
  set health(status: string) {
    this.#health = status;
  }

  /** How many event streams are open. */
  get subscribers(): number {
    return this.#streams.size;
  }

  /**
   * Sends an event to every subscriber, its payload encoded from `fields`
   * with the same .proto files.
   */
  emit(
    namespace: string,
    topic: string,
    fields: Record<string, unknown>,
  ): void {
    const typeName = PAYLOAD_TYPES[topic] ?? "containerd.events.TaskStart";
    const type = CONTAINERD_PROTO_ROOT.lookupType(typeName);
    this.emitRaw({
      namespace,
      topic,
      event: {
        type_url: `types.containerd.io/${typeName}`,
        value: Buffer.from(type.encode(type.fromObject(fields)).finish()),
      },
    });
  }

  /** Sends an envelope as it is (hostile input). */
  emitRaw(envelope: {
    namespace: string;
    topic: string;
    event: { type_url: string; value: Uint8Array } | null;
  }): void {
    const now = Date.now();
    for (const stream of this.#streams) {
      stream.write({
        timestamp: { seconds: String(Math.floor(now / 1000)), nanos: 0 },
        ...envelope,
      });
    }
  }

  /** Ends every event stream with an error, as a containerd restart does. */
  breakStreams(): void {
    for (const stream of this.#streams) {
      // grpc-js ends a server stream with the status of its "error" event.
      stream.emit(
        "error",
        Object.assign(new Error("containerd is restarting"), {
          code: grpcStatus.UNAVAILABLE,
        }),
      );
    }
    this.#streams.clear();
  }

  /** Stops serving and removes the socket. */
  async close(): Promise<void> {
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
    await new Promise<void>((resolve) =>
      this.#server.tryShutdown(() => resolve())
    );
    this.#server.forceShutdown();
    await Deno.remove(this.path).catch(() => {});
  }
}
