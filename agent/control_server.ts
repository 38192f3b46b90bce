/**
 * The control socket: a small read-only JSON API on a unix socket (mode
 * 0600 in a 0700 folder) that the `ports` and `status` commands read.
 *
 *   GET /v1/ports  → { "ports": PortRow[] }
 *   GET /v1/status → AgentStatus
 *
 * @module
 */
import type { AgentStatus, PortRow } from "./control_view.ts";

/** What the API reads from the running agent. */
export interface ControlState {
  /** The `ports` rows now. */
  ports(): PortRow[];
  /** The `status` report now. */
  status(): AgentStatus;
}

/** A serving control socket. */
export interface ControlServer {
  /** The socket's path. */
  readonly path: string;
  /** Stops serving and removes the socket file. */
  close(): Promise<void>;
}

function handle(request: Request, state: ControlState): Response {
  if (request.method !== "GET") {
    return Response.json({ error: "read-only API: GET only" }, {
      status: 405,
    });
  }
  switch (new URL(request.url).pathname) {
    case "/v1/ports":
      return Response.json({ ports: state.ports() });
    case "/v1/status":
      return Response.json(state.status());
    default:
      return Response.json({ error: "not found: /v1/ports, /v1/status" }, {
        status: 404,
      });
  }
}

async function answers(path: string): Promise<boolean> {
  try {
    const connection = await Deno.connect({ transport: "unix", path });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Serves the control API at `path`. Creates its folder (mode 0700) when
 * missing, replaces a stale socket (never another kind of file), and makes
 * the socket 0600.
 *
 * @throws {Error} When the path holds something other than a socket, or
 *   the socket cannot be made.
 */
export async function serveControl(
  path: string,
  state: ControlState,
): Promise<ControlServer> {
  const folder = path.slice(0, path.lastIndexOf("/")) || "/";
  await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  try {
    const info = await Deno.lstat(path);
    if (!info.isSocket) {
      throw new Error(
        `Cannot serve the control API at ${path}: something other than a socket is there`,
      );
    }
    if (await answers(path)) {
      throw new Error(
        `Cannot serve the control API at ${path}: another agent answers there`,
      );
    }
    await Deno.remove(path); // a stale socket of an earlier run
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const server = Deno.serve(
    { path, onListen: () => {} },
    (request) => handle(request, state),
  );
  await Deno.chmod(path, 0o600);
  return {
    path,
    async close() {
      await server.shutdown();
      await Deno.remove(path).catch(() => {});
    },
  };
}
