import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { UnixHttpClient } from "./unix_http_client.ts";
import { waitFor } from "../../tests/wait.ts";

/**
 * A unix socket server answering each request line with `answer(n)` (n
 * counts requests on that connection); our own stand-in for the client's
 * mechanics (reuse, stale connections, abort) — the Docker e2e tests run
 * the client against real dockerd and Podman.
 */
function serve(
  answer: (request: string, n: number) => string | undefined,
  options: { closeAfter?: number } = {},
) {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/api.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  let connections = 0;
  let closed = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      (async () => {
        const buffer = new Uint8Array(4096);
        let n = 0;
        let pending = "";
        try {
          for (;;) {
            const count = await conn.read(buffer);
            if (count === null) break;
            pending += new TextDecoder().decode(buffer.subarray(0, count));
            while (pending.includes("\r\n\r\n")) {
              const end = pending.indexOf("\r\n\r\n");
              const request = pending.slice(0, end);
              pending = pending.slice(end + 4);
              const reply = answer(request, n++);
              if (reply !== undefined) {
                await conn.write(new TextEncoder().encode(reply));
              }
              if (options.closeAfter === n) throw new Error("closing");
            }
          }
        } catch {
          /* closed */
        } finally {
          try {
            conn.close();
          } catch { /* gone */ }
          closed++;
        }
      })();
    }
  })();
  return {
    path,
    connections: () => connections,
    /** Connections the server has closed. */
    closed: () => closed,
    async close() {
      listener.close();
      await serving.catch(() => {});
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

const ok = (body: string) =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

Deno.test("UnixHttpClient reuses one connection for requests in a row", async () => {
  const server = serve((request) => ok(request.split(" ")[1]!));
  const client = new UnixHttpClient(server.path);
  try {
    const signal = new AbortController().signal;
    for (
      const target of ["/v1.41/containers/a/json", "/_ping", "/x?y=%7B%7D"]
    ) {
      const response = await client.get(target, signal);
      assertEquals(new TextDecoder().decode(response.body), target);
    }
    assertEquals(server.connections(), 1);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UnixHttpClient retries once on a fresh connection when the idle one was closed", async () => {
  const server = serve((_request) => ok("{}"), { closeAfter: 1 });
  const client = new UnixHttpClient(server.path);
  try {
    const signal = new AbortController().signal;
    await client.get("/a", signal);
    await waitFor(() => server.closed() === 1);
    assertEquals((await client.get("/b", signal)).status, 200);
    assertEquals(server.connections(), 2);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UnixHttpClient: an abort ends a silent wait; a bad target is refused", async () => {
  const server = serve(() => undefined);
  const client = new UnixHttpClient(server.path, { maxIdle: 0 });
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stopped")), 30);
    await assertRejects(
      () => client.get("/silent", controller.signal),
      Error,
      "stopped",
    );
    await assertRejects(
      () => client.get("/bad target", new AbortController().signal),
      TypeError,
      "not a request target",
    );
  } finally {
    client.close();
    await server.close();
  }
});
