/**
 * A FAKE Kubernetes API server for what the real kube-apiserver
 * (tests/kubernetes_apiserver_e2e_test.ts) cannot be made to do on demand
 * (docs/testing.md, "Fakes"): it speaks the real list + watch HTTP protocol for
 * `/api/v1/services`: a ServiceList with metadata.resourceVersion, paged
 * by `limit` and `continue` (every page of one list is the same snapshot);
 * `?watch=true&resourceVersion=N` streams one JSON event per line (ADDED,
 * MODIFIED, DELETED, BOOKMARK, ERROR) from N on, with chunked transfer
 * encoding, and answers an expired N with a 410 Gone ERROR event. A request
 * without the bearer token gets 401. Optionally over TLS. Tests change
 * services, drop watch connections, make the next requests fail with a
 * Status, and stop and restart it on the same port.
 *
 * @module
 */
import { createServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { TestCertificates } from "./test_certificates.ts";

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

/** The bearer token the fake server accepts. */
export const FAKE_TOKEN = "fake-token";

/** Options of {@linkcode FakeKubeApi}. */
export interface FakeKubeApiOptions {
  /**
   * Serve HTTPS with these certificates and accept clients by their
   * certificate (mutual TLS, as k3s does); the kubeconfig then carries the
   * CA and the client certificate inline, as k3s writes it.
   */
  readonly tls?: TestCertificates;
}

/** A running fake API server. */
export class FakeKubeApi {
  readonly #tls: TestCertificates | undefined;
  readonly #pages = new Map<string, { items: unknown[]; rv: number }>();
  readonly #services = new Map<string, FakeService>();
  #history: WatchEvent[] = [];
  #oldestRv = 1;
  #rv = 1;
  #server: { shutdown(): Promise<void> } | undefined;
  #watchers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #failures: { status: number; reason: string }[] = [];
  /** Every request's path and query, in order. */
  readonly requests: string[] = [];
  /** Called with each request's path and query before it is answered. */
  onRequest: (pathAndQuery: string) => void = () => {};
  /** Watches end as soon as they start (a misbehaving proxy). */
  endWatchesAtOnce = false;
  /** The port it listens on (kept across restarts). */
  port = 0;

  /** Creates the server; {@linkcode start} listens. */
  constructor(options: FakeKubeApiOptions = {}) {
    this.#tls = options.tls;
  }

  /** Starts listening on 127.0.0.1 (the same port after a restart). */
  start(): Promise<void> {
    if (this.#tls) return this.#startTls(this.#tls);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: this.port, onListen: () => {} },
      (request) => this.#handle(request, false),
    );
    this.port = (server.addr as Deno.NetAddr).port;
    this.#server = server;
    return Promise.resolve();
  }

  /** node:https, because Deno.serve cannot ask for client certificates. */
  async #startTls(tls: TestCertificates): Promise<void> {
    const server = createServer({
      key: tls.serverKey,
      cert: tls.serverCert,
      ca: tls.ca,
      requestCert: true,
      rejectUnauthorized: false, // no certificate: 401, as an API server says
    }, async (incoming, outgoing) => {
      const socket = incoming.socket as TLSSocket;
      const headers = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (typeof value === "string") headers.set(name, value);
      }
      const response = this.#handle(
        new Request(`https://localhost${incoming.url}`, { headers }),
        socket.authorized,
      );
      outgoing.writeHead(response.status, Object.fromEntries(response.headers));
      const reader = response.body?.getReader();
      outgoing.on("close", () => void reader?.cancel().catch(() => {}));
      try {
        for (;;) {
          const chunk = await reader?.read();
          if (chunk === undefined || chunk.done) break;
          outgoing.write(chunk.value);
        }
      } catch { /* the client went away */ }
      outgoing.end();
    });
    await new Promise<void>((resolve) =>
      server.listen(this.port, "127.0.0.1", resolve)
    );
    this.port = (server.address() as { port: number }).port;
    this.#server = {
      shutdown: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
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
      this.#tls
        ? `    server: https://localhost:${this.port}`
        : `    server: http://127.0.0.1:${this.port}`,
      ...this.#tls
        ? [`    certificate-authority-data: ${btoa(this.#tls.ca)}`]
        : [],
      "contexts:",
      "- name: fake",
      "  context: {cluster: fake, user: fake}",
      "current-context: fake",
      "users:",
      "- name: fake",
      this.#tls
        ? `  user: {client-certificate-data: ${
          btoa(this.#tls.clientCert)
        }, client-key-data: ${btoa(this.#tls.clientKey)}}`
        : `  user: {token: ${FAKE_TOKEN}}`,
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

  /** A list page: `limit` items from the `continue` token's offset. */
  #list(url: URL): Response {
    const token = url.searchParams.get("continue");
    let snapshot: { items: unknown[]; rv: number };
    let offset = 0;
    if (token) {
      const [id, at] = token.split(":");
      const kept = this.#pages.get(id ?? "");
      if (kept === undefined || kept.rv < this.#oldestRv) {
        return Response.json(gone("the continue token has expired").object, {
          status: 410,
        });
      }
      snapshot = kept;
      offset = Number(at);
    } else {
      snapshot = {
        rv: this.#rv,
        items: [...this.#services.values()].map((service) => ({
          ...structuredClone(service),
          kind: "Service",
          apiVersion: "v1",
        })),
      };
    }
    const limit = Number(url.searchParams.get("limit") ?? "0");
    const end = limit > 0 ? offset + limit : snapshot.items.length;
    let next: string | undefined;
    if (end < snapshot.items.length) {
      const id = token?.split(":")[0] ?? crypto.randomUUID();
      this.#pages.set(id, snapshot);
      next = `${id}:${end}`;
    }
    return Response.json({
      kind: "ServiceList",
      apiVersion: "v1",
      metadata: {
        resourceVersion: String(snapshot.rv),
        ...(next ? { continue: next } : {}),
      },
      items: snapshot.items.slice(offset, end),
    });
  }

  #handle(request: Request, certified: boolean): Response {
    const url = new URL(request.url);
    this.requests.push(`${url.pathname}${url.search}`);
    this.onRequest(`${url.pathname}${url.search}`);
    const failure = this.#failures.shift();
    if (failure) return status(failure.status, failure.reason);
    if (
      !certified &&
      request.headers.get("authorization") !== `Bearer ${FAKE_TOKEN}`
    ) {
      return status(401, "Unauthorized");
    }
    if (url.pathname !== "/api/v1/services") return status(404, "NotFound");
    if (url.searchParams.get("watch") !== "true") return this.#list(url);
    const from = Number(url.searchParams.get("resourceVersion") ?? "0");
    const replay = from < this.#oldestRv
      ? undefined
      : this.#history.filter((event) => event.rv > from);
    const encoder = new TextEncoder();
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (this.endWatchesAtOnce) {
          controller.close();
          return;
        }
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

function gone(message = "too old resource version") {
  return {
    type: "ERROR",
    object: {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message,
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
