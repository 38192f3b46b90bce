/**
 * A FAKE host-switch forwarder API for tests: no real gvproxy/host-switch
 * runs on our machines, so this server implements the documented API
 * (PROTOCOLS.md §3) with its status codes and error texts.
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
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
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
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    mappings,
    requests,
    close: () => server.shutdown(),
  };
}
