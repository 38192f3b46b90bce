/**
 * A FAKE Kubernetes API server for tests (no real one can run on our
 * machines): it speaks the real list + watch HTTP protocol for
 * `/api/v1/services` as @kubernetes/client-node uses it: a ServiceList with
 * metadata.resourceVersion; `?watch=true&resourceVersion=N` streams one
 * JSON event per line (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) from N on,
 * with chunked transfer encoding, and answers an expired N with a 410 Gone
 * ERROR event. Tests change services, drop watch connections, make the next
 * requests fail with a Status, and stop and restart it on the same port.
 *
 * @module
 */

/** A v1 Service as tests write it. */
export interface FakeService {
  /** metadata. */
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    resourceVersion?: string;
  };
  /** spec. */
  readonly spec: Record<string, unknown>;
}

interface WatchEvent {
  readonly rv: number;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: FakeService;
}

/** A running fake API server. */
export class FakeKubeApi {
  readonly #services = new Map<string, FakeService>();
  #history: WatchEvent[] = [];
  #oldestRv = 1;
  #rv = 1;
  #server: Deno.HttpServer | undefined;
  #watchers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #failures: { status: number; reason: string }[] = [];
  /** Every request's path and query, in order. */
  readonly requests: string[] = [];
  /** The port it listens on (kept across restarts). */
  port = 0;

  /** Starts listening on 127.0.0.1 (the same port after a restart). */
  start(): void {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: this.port, onListen: () => {} },
      (request) => this.#handle(request),
    );
    this.port = (this.#server.addr as Deno.NetAddr).port;
  }

  /** Stops listening and drops every watch (connections refused until start). */
  async stop(): Promise<void> {
    this.dropWatches();
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  /** The kubeconfig text pointing at this server. */
  kubeconfig(): string {
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: fake",
      "  cluster:",
      `    server: http://127.0.0.1:${this.port}`,
      "    insecure-skip-tls-verify: true",
      "contexts:",
      "- name: fake",
      "  context: {cluster: fake, user: fake}",
      "current-context: fake",
      "users:",
      "- name: fake",
      "  user: {token: fake-token}",
      "",
    ].join("\n");
  }

  /** Adds or replaces a service (ADDED or MODIFIED). */
  apply(service: FakeService): void {
    const type = this.#services.has(service.metadata.uid)
      ? "MODIFIED"
      : "ADDED";
    this.#record(type, service);
    this.#services.set(service.metadata.uid, service);
  }

  /** Deletes a service (DELETED). */
  delete(uid: string): void {
    const service = this.#services.get(uid);
    if (service === undefined) return;
    this.#services.delete(uid);
    this.#record("DELETED", service);
  }

  /** Forgets the event history: a watch from an older version gets 410. */
  compact(): void {
    this.#history = [];
    this.#oldestRv = this.#rv;
  }

  /**
   * Moves the version on (as other objects' changes do) and sends a
   * BOOKMARK with it to every watch.
   */
  bookmark(): void {
    this.#rv++;
    this.#broadcast({
      type: "BOOKMARK",
      object: {
        kind: "Service",
        apiVersion: "v1",
        metadata: { resourceVersion: String(this.#rv) },
      },
    });
  }

  /** Tells every watch its version is too old (410), then closes them. */
  expireWatches(): void {
    this.#broadcast(gone());
    this.dropWatches();
  }

  /** Closes every watch stream. */
  dropWatches(): void {
    for (const controller of this.#watchers) {
      try {
        controller.close();
      } catch { /* already closed */ }
    }
    this.#watchers.clear();
  }

  /** The next request (list or watch) answers this HTTP status. */
  failNext(status: number, reason = "InternalError"): void {
    this.#failures.push({ status, reason });
  }

  /** The current resourceVersion. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.#watchers.size;
  }

  #record(type: WatchEvent["type"], service: FakeService): void {
    this.#rv++;
    const object = structuredClone(service);
    object.metadata.resourceVersion = String(this.#rv);
    const event = { rv: this.#rv, type, object };
    this.#history.push(event);
    this.#broadcast({ type, object });
  }

  #broadcast(event: unknown): void {
    const line = new TextEncoder().encode(`${JSON.stringify(event)}\n`);
    for (const controller of this.#watchers) {
      try {
        controller.enqueue(line);
      } catch {
        this.#watchers.delete(controller);
      }
    }
  }

  #handle(request: Request): Response {
    const url = new URL(request.url);
    this.requests.push(`${url.pathname}${url.search}`);
    const failure = this.#failures.shift();
    if (failure) return status(failure.status, failure.reason);
    if (url.pathname !== "/api/v1/services") return status(404, "NotFound");
    if (url.searchParams.get("watch") !== "true") {
      return Response.json({
        kind: "ServiceList",
        apiVersion: "v1",
        metadata: { resourceVersion: String(this.#rv) },
        items: [...this.#services.values()].map((service) => ({
          ...structuredClone(service),
          kind: "Service",
          apiVersion: "v1",
        })),
      });
    }
    const from = Number(url.searchParams.get("resourceVersion") ?? "0");
    const replay = from < this.#oldestRv
      ? undefined
      : this.#history.filter((event) => event.rv > from);
    const encoder = new TextEncoder();
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (replay === undefined) {
          controller.enqueue(encoder.encode(`${JSON.stringify(gone())}\n`));
          controller.close();
          return;
        }
        for (const { type, object } of replay) {
          controller.enqueue(
            encoder.encode(`${JSON.stringify({ type, object })}\n`),
          );
        }
        self = controller;
        this.#watchers.add(controller);
      },
      cancel: () => {
        if (self) this.#watchers.delete(self);
      },
    });
    return new Response(body, {
      headers: { "content-type": "application/json" },
    });
  }
}

function gone() {
  return {
    type: "ERROR",
    object: {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: "too old resource version",
      reason: "Expired",
      code: 410,
    },
  };
}

function status(code: number, reason: string): Response {
  return Response.json({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    message: `fake API server: ${reason}`,
    reason,
    code,
  }, { status: code });
}

/** A NodePort (or other type) service for tests. */
export function fakeService(
  uid: string,
  type: string,
  ports: Record<string, unknown>[],
  namespace = "default",
): FakeService {
  return {
    metadata: { name: `svc-${uid}`, namespace, uid },
    spec: { type, ports },
  };
}
