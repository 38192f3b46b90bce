/**
 * The Docker watcher against an in-process fake of the Engine API on a unix
 * socket (our reading of it: /_ping, /events, /containers/json, inspect).
 * The real engines are tests/docker_e2e_test.ts and its siblings; this file
 * covers what they cannot make happen on demand: an inspect held back, an
 * engine that contradicts a container's configuration.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { waitFor } from "../../tests/wait.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import {
  CONFIRM_DELAY_MS,
  watchDocker,
  type WatchDockerOptions,
} from "./watch_docker.ts";
import { FakeClock } from "../../support/clock.ts";

/** A container as the fake engine keeps it. */
interface FakeContainer {
  running: boolean;
  /** HostConfig.PortBindings: what its configuration asks for. */
  configured: Record<string, { HostIp: string; HostPort: string }[]>;
  /** NetworkSettings.Ports while running: what the engine did. */
  published: Record<string, { HostIp: string; HostPort: string }[]>;
}

const idOf = (n: number) => n.toString(16).padStart(64, "a");

class FakeDockerApi {
  readonly containers = new Map<string, FakeContainer>();
  /** Inspects of these ids wait until the promise settles. */
  readonly heldInspects = new Map<string, Promise<void>>();
  readonly requests: string[] = [];
  readonly socket: string;
  #events: ReadableStreamDefaultController<Uint8Array> | undefined;
  #server: Deno.HttpServer<Deno.UnixAddr>;

  constructor(dir: string) {
    this.socket = `${dir}/docker.sock`;
    this.#server = Deno.serve(
      { path: this.socket, onListen: () => {} },
      (request) => this.#answer(request),
    );
  }

  async #answer(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname.replace(/^\/v[\d.]+/, "");
    this.requests.push(path);
    if (path === "/_ping") {
      return new Response("OK", { headers: { "API-Version": "1.41" } });
    }
    if (path === "/events") {
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => this.#events = controller,
      });
      return new Response(body);
    }
    if (path === "/containers/json") {
      return Response.json(
        [...this.containers].filter(([, c]) => c.running).map(([Id]) => ({
          Id,
        })),
      );
    }
    const inspect = /^\/containers\/([0-9a-f]+)\/json$/.exec(path);
    if (inspect) {
      const id = inspect[1]!;
      await this.heldInspects.get(id);
      const container = this.containers.get(id);
      if (!container) return new Response("no such container", { status: 404 });
      return Response.json({
        Id: id,
        Name: `/c${id.slice(-4)}`,
        State: { Running: container.running },
        HostConfig: {
          NetworkMode: "bridge",
          PortBindings: container.configured,
        },
        NetworkSettings: {
          Ports: container.running ? container.published : {},
          Networks: { bridge: { IPAddress: "172.17.0.2" } },
        },
      });
    }
    return new Response("not found", { status: 404 });
  }

  /** Sends one event on the open /events stream. */
  event(action: string, id: string): void {
    this.#events!.enqueue(
      new TextEncoder().encode(
        `${
          JSON.stringify({
            Type: "container",
            Action: action,
            Actor: { ID: id, Attributes: { name: `c${id.slice(-4)}` } },
          })
        }\n`,
      ),
    );
  }

  get subscribed(): boolean {
    return this.#events !== undefined;
  }

  async close(): Promise<void> {
    try {
      this.#events?.close();
    } catch { /* already closed */ }
    await this.#server.shutdown();
  }
}

const web = { "80/tcp": [{ HostIp: "", HostPort: "8080" }] };

async function watching(
  test: (api: FakeDockerApi, messages: SourceMessageBody[]) => Promise<void>,
  options: WatchDockerOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const api = new FakeDockerApi(dir);
  const messages: SourceMessageBody[] = [];
  const stop = new AbortController();
  const done = watchDocker(
    { socketPath: api.socket },
    (message) => messages.push(message),
    stop.signal,
    options,
  );
  try {
    await test(api, messages);
  } finally {
    stop.abort();
    await done.catch(() => {});
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const upserts = (messages: SourceMessageBody[], id: string) =>
  messages.flatMap((m) =>
    m.type === "upsert" && m.ownerId === id
      ? [m.entries.map((e) => `${e.binding.hostPort}:${e.containerPort}`)]
      : []
  );
const mispredictions = (messages: SourceMessageBody[]) =>
  messages.flatMap((m) =>
    m.type === "counters" ? [m.counters.mispredictions] : []
  ).at(-1);

Deno.test("watchDocker(): a snapshot of the running containers, then start posts the configured ports before the inspect answers", async () => {
  await watching(async (api, messages) => {
    const running = idOf(1);
    api.containers.set(running, {
      running: true,
      configured: web,
      published: web,
    });
    await waitFor(() => messages.some((m) => m.type === "snapshot"));
    const snapshot = messages.find((m) => m.type === "snapshot");
    assertEquals(
      snapshot?.type === "snapshot" &&
        snapshot.entries.map((e) => [e.ownerId, e.binding.hostPort]),
      [[running, 8080]],
    );
    assert(api.subscribed, "subscribed before listing");

    const created = idOf(2);
    const ports = { "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }] };
    api.containers.set(created, {
      running: false,
      configured: ports,
      published: ports,
    });
    api.event("create", created);
    await waitFor(() =>
      api.requests.filter((r) => r === `/containers/${created}/json`)
        .length === 1
    );
    // The start's inspect is held: the post must not wait for it.
    let release!: () => void;
    api.heldInspects.set(created, new Promise((r) => release = r));
    api.containers.get(created)!.running = true;
    api.event("start", created);
    await waitFor(() => upserts(messages, created).length === 1);
    assertEquals(upserts(messages, created), [["5353:53"]]);
    const posted = messages.find((m) =>
      m.type === "upsert" && m.ownerId === created
    );
    assert(
      posted?.type === "upsert" &&
        posted.entries[0]!.binding.hostIp === "127.0.0.1" &&
        posted.entries[0]!.binding.protocol === "udp",
      JSON.stringify(posted),
    );
    release();
    await waitFor(() => upserts(messages, created).length === 2);
    assertEquals(upserts(messages, created)[1], ["5353:53"]);
    assertEquals(mispredictions(messages), 0);
  });
});

Deno.test("watchDocker(): an engine that takes back a posted binding is a misprediction, counted", async () => {
  await watching(async (api, messages) => {
    await waitFor(() => messages.some((m) => m.type === "snapshot"));
    const id = idOf(3);
    api.containers.set(id, { running: false, configured: web, published: {} });
    api.event("create", id);
    await waitFor(() => api.requests.includes(`/containers/${id}/json`));
    api.containers.get(id)!.running = true;
    api.event("start", id);
    await waitFor(() => upserts(messages, id).length === 2);
    assertEquals(upserts(messages, id), [["8080:80"], []]);
    assertEquals(mispredictions(messages), 1);
  });
});

Deno.test("watchDocker(): die removes at once; a container gone before its inspect is removed", async () => {
  await watching(async (api, messages) => {
    await waitFor(() => messages.some((m) => m.type === "snapshot"));
    const id = idOf(4);
    api.containers.set(id, { running: true, configured: web, published: web });
    api.event("start", id); // never seen at create: the inspect says
    await waitFor(() => upserts(messages, id).length === 1);
    const inspects = api.requests.length;
    api.event("die", id);
    await waitFor(() =>
      messages.some((m) => m.type === "remove" && m.ownerId === id)
    );
    assertEquals(api.requests.length, inspects, "no inspect for a die");

    const gone = idOf(5);
    api.event("start", gone); // the engine no longer knows it
    await waitFor(() =>
      messages.some((m) => m.type === "remove" && m.ownerId === gone)
    );
    assertEquals(upserts(messages, gone), []);
  });
});

Deno.test("watchDocker(): the inspect that confirms posted ports waits CONFIRM_DELAY_MS; one with nothing posted does not", async () => {
  const clock = new FakeClock();
  await watching(async (api, messages) => {
    await waitFor(() => messages.some((m) => m.type === "snapshot"));
    const inspectsOf = (id: string) =>
      api.requests.filter((r) => r === `/containers/${id}/json`).length;

    const known = idOf(6);
    api.containers.set(known, {
      running: false,
      configured: web,
      published: web,
    });
    api.event("create", known);
    await waitFor(() => inspectsOf(known) === 1);
    api.containers.get(known)!.running = true;
    const timers = clock.pending;
    api.event("start", known);
    // Posted, and the confirming inspect asleep on the clock's delay: the
    // moment it would have run had it not waited.
    await waitFor(() =>
      upserts(messages, known).length === 1 && clock.pending === timers + 1
    );
    assertEquals(inspectsOf(known), 1, "not confirmed before the delay");
    await clock.advance(CONFIRM_DELAY_MS);
    await waitFor(() => upserts(messages, known).length === 2);
    assertEquals(inspectsOf(known), 2);

    // A random host port is not certain: nothing posted, inspected at once.
    const random = idOf(7);
    const any = { "80/tcp": [{ HostIp: "", HostPort: "" }] };
    const chosen = { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "49153" }] };
    api.containers.set(random, {
      running: true,
      configured: any,
      published: chosen,
    });
    api.event("start", random);
    await waitFor(() => upserts(messages, random).length === 1);
    assertEquals(upserts(messages, random), [["49153:80"]]);
  }, { clock });
});
