/** The API client against small local HTTP servers (real sockets). */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../tests/assert.ts";
import { explainFetchError, KubeApi, KubeApiError } from "./kube_api.ts";

async function serving(
  handler: (request: Request) => Response | Promise<Response>,
  test: (server: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    handler,
  );
  try {
    await test(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`);
  } finally {
    await server.shutdown();
  }
}

const LIST = { metadata: { resourceVersion: "1" }, items: [] };

Deno.test("KubeApi reads the token file for every request (tokens rotate)", async () => {
  const dir = await Deno.makeTempDir();
  const seen: (string | null)[] = [];
  try {
    await serving((request) => {
      seen.push(request.headers.get("authorization"));
      return Response.json(LIST);
    }, async (server) => {
      const api = await KubeApi.open({ server, tokenFile: `${dir}/token` });
      try {
        await Deno.writeTextFile(`${dir}/token`, "one\n");
        await api.list(
          "/api/v1/services",
          { limit: 5 },
          new AbortController().signal,
        );
        await Deno.writeTextFile(`${dir}/token`, "two");
        await api.list(
          "/api/v1/services",
          { limit: 5, continue: "c" },
          new AbortController().signal,
        );
        await Deno.remove(`${dir}/token`);
        await assertRejects(
          () =>
            api.list(
              "/api/v1/services",
              { limit: 5 },
              new AbortController().signal,
            ),
          Error,
          `Cannot read the token file ${dir}/token`,
        );
      } finally {
        api.close();
      }
    });
    assertEquals(seen, ["Bearer one", "Bearer two"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KubeApi sends basic credentials and pages by limit and continue", async () => {
  const seen: string[] = [];
  await serving((request) => {
    seen.push(
      `${new URL(request.url).search} ${request.headers.get("authorization")}`,
    );
    return Response.json(LIST);
  }, async (server) => {
    const api = await KubeApi.open({
      server,
      basicAuth: { username: "ädmin", password: "p:w" },
    });
    try {
      await api.list(
        "/api/v1/services",
        { limit: 2, continue: "x y" },
        new AbortController().signal,
      );
    } finally {
      api.close();
    }
  });
  const basic = btoa(
    String.fromCharCode(...new TextEncoder().encode("ädmin:p:w")),
  );
  assertEquals(seen, [`?limit=2&continue=x+y Basic ${basic}`]);
});

Deno.test("KubeApi errors carry the status and the Status message (bounded)", async () => {
  await serving(
    (request) =>
      new URL(request.url).pathname === "/big"
        ? new Response("x".repeat(1_000_000), { status: 500 })
        : Response.json({
          kind: "Status",
          message: "services is forbidden",
          code: 403,
        }, { status: 403 }),
    async (server) => {
      const api = await KubeApi.open({ server });
      try {
        const error = await assertRejects(
          () =>
            api.list(
              "/api/v1/services",
              { limit: 1 },
              new AbortController().signal,
            ),
          KubeApiError,
          "answered 403: services is forbidden",
        );
        assertEquals((error as KubeApiError).status, 403);
        const big = await assertRejects(
          () => api.list("/big", { limit: 1 }, new AbortController().signal),
          KubeApiError,
          "answered 500",
        );
        assert((big as Error).message.length < 400, "bounded");
      } finally {
        api.close();
      }
    },
  );
});

Deno.test("KubeApi watch: lines as they come, a silent connection is given up", async () => {
  let query = "";
  await serving((request) => {
    query = new URL(request.url).search;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(
          new TextEncoder().encode('{"type":"BOOKMARK"}\n\n{"a"'),
        );
        controller.enqueue(new TextEncoder().encode(":1}\n"));
        // then silence, never closed
      },
    });
    return new Response(body);
  }, async (server) => {
    const api = await KubeApi.open({ server });
    try {
      const lines: string[] = [];
      const watch = await api.watch("/api/v1/services", {
        resourceVersion: "5",
        timeoutSeconds: 60,
        idleMs: 300,
        signal: new AbortController().signal,
      });
      const error = await assertRejects(async () => {
        for await (const line of watch) lines.push(line);
      });
      assertStringIncludes((error as Error).message, "silent");
      assertEquals(lines, ['{"type":"BOOKMARK"}', '{"a":1}']);
      assertEquals(
        query,
        "?watch=true&resourceVersion=5&allowWatchBookmarks=true&timeoutSeconds=60",
      );
    } finally {
      api.close();
    }
  });
});

Deno.test("KubeApi watch: an oversized event line ends the watch with a clear error", async () => {
  await serving(
    () => new Response("y".repeat(5 * 1024 * 1024) + "\n"),
    async (server) => {
      const api = await KubeApi.open({ server });
      try {
        const watch = await api.watch("/w", {
          resourceVersion: "1",
          signal: new AbortController().signal,
        });
        await assertRejects(
          async () => {
            for await (const _ of watch) { /* none */ }
          },
          Error,
          "bytes: over 4194304: yyyy",
        );
      } finally {
        api.close();
      }
    },
  );
});

Deno.test("KubeApi.open names a certificate file it cannot read", async () => {
  await assertRejects(
    () =>
      KubeApi.open({
        server: "https://x",
        ca: { file: "/nonexistent/ca.crt" },
      }),
    Error,
    "Cannot read the certificate authority /nonexistent/ca.crt",
  );
});

Deno.test("explainFetchError() names what happened, from Deno's fetch errors and their causes", () => {
  const fetchFailed = (cause: string) =>
    new TypeError("fetch failed", { cause: new Error(cause) });
  assertEquals(
    explainFetchError(
      fetchFailed(
        "error sending request for url (https://127.0.0.1:6443/x): client error (Connect): tcp connect error: Connection refused (os error 111)",
      ),
    ),
    "connection refused",
  );
  assertEquals(
    explainFetchError(fetchFailed("connection reset by peer (os error 104)")),
    "connection reset by the server",
  );
  assertEquals(
    explainFetchError(
      fetchFailed(
        "client error (Connect): invalid peer certificate: UnknownIssuer",
      ),
    ).startsWith("TLS: "),
    true,
  );
  assertEquals(explainFetchError(new Error("odd")), "odd");
});
