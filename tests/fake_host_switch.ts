/**
 * A FAKE host-switch forwarder API for unit tests and for what no real peer
 * can be made to do (answer HTML, garbage or nothing): the real gvproxy
 * builds in the peers directory (docs/testing.md) serve tests/host_switch_gvproxy_test.ts. This
 * server implements the API as v0.8.2+ does (docs/protocols.md, "host-switch API"), with its
 * status codes and error texts.
 *
 * @module
 */

/** One mapping held by the fake. */
export interface FakeMapping {
  /** Host address:port. */
  local: string;
  /** VM address:port. */
  remote: string;
  /** tcp or udp. */
  protocol: string;
}

/** A running fake API. */
export interface FakeHostSwitch {
  /** Base URL, http://127.0.0.1:<port>. */
  readonly url: string;
  /** Mappings by "<protocol>/<local>". */
  readonly mappings: Map<string, FakeMapping>;
  /** Every request body received, with its path. */
  readonly requests: { path: string; body: unknown }[];
  /**
   * Answer every request badly while set: an HTML page, JSON that is not
   * JSON, or headers and then a body that never ends.
   */
  misbehave: "html" | "garbage" | "hang" | undefined;
  /** Stops the server. */
  close(): Promise<void>;
}

const text = (status: number, body: string) =>
  new Response(body, { status, headers: { "content-type": "text/plain" } });

/**
 * Starts the fake on 127.0.0.1.
 *
 * @param port 0 for any free port, or a fixed one (to come back on the same address).
 * @param initial Mappings it has at start.
 */
export function startFakeHostSwitch(
  port = 0,
  initial: FakeMapping[] = [],
): FakeHostSwitch {
  const mappings = new Map(initial.map((m) => [`${m.protocol}/${m.local}`, m]));
  const requests: { path: string; body: unknown }[] = [];
  const hanging = new Set<ReadableStreamDefaultController>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      switch (fake.misbehave) {
        case "html":
          return new Response("<html><body>502 Bad Gateway</body></html>", {
            status: 200,
            headers: { "content-type": "text/html" },
          });
        case "garbage":
          return new Response('[{"local": tru', { status: 200 });
        case "hang":
          return new Response(
            new ReadableStream({
              start: (controller) => {
                controller.enqueue(new TextEncoder().encode("["));
                hanging.add(controller);
              },
            }),
          );
      }
      if (path === "/services/forwarder/all") {
        if (req.method !== "GET") return text(400, "method not allowed");
        return Response.json([...mappings.values()]);
      }
      if (req.method !== "POST") return text(400, "method not allowed");
      let body: Record<string, string>;
      try {
        body = await req.json();
      } catch {
        return text(400, "invalid JSON");
      }
      requests.push({ path, body });
      const protocol = body.protocol || "tcp";
      const key = `${protocol}/${body.local}`;
      if (path === "/services/forwarder/expose") {
        if (mappings.has(key)) {
          return text(
            500,
            `proxy already running for ${protocol} on ${body.local}\n`,
          );
        }
        mappings.set(key, {
          local: body.local!,
          remote: body.remote!,
          protocol,
        });
        return new Response(null, { status: 200 });
      }
      if (path === "/services/forwarder/unexpose") {
        if (!mappings.delete(key)) return text(500, "proxy not found\n");
        return new Response(null, { status: 200 });
      }
      return text(404, "not found");
    },
  );
  const fake: FakeHostSwitch = {
    url: `http://127.0.0.1:${server.addr.port}`,
    mappings,
    requests,
    misbehave: undefined,
    close: () => {
      for (const controller of hanging) {
        try {
          controller.close();
        } catch { /* closed */ }
      }
      return server.shutdown();
    },
  };
  return fake;
}
