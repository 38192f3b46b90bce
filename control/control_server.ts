/**
 * The control socket: a small read-only JSON API on a unix socket (mode
 * 0600 in a 0700 folder) that the `ports` and `status` commands read.
 *
 *   GET /v1/ports  → { "ports": PortRow[] }
 *   GET /v1/status → AgentStatus
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { backoffDelay } from "../support/backoff.ts";
import { isOutOfDescriptors } from "../support/open_files.ts";
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

/** The answer to one request line: status and JSON body. */
export function answer(
  method: string,
  target: string,
  state: ControlState,
): { status: number; body: unknown } {
  if (method !== "GET") {
    return { status: 405, body: { error: "read-only API: GET only" } };
  }
  // Deno's fetch over a unix socket sends the absolute form
  // (`GET http://host/v1/ports`), curl the origin form (`GET /v1/ports`).
  const path = /^[a-z]+:\/\//i.test(target)
    ? URL.parse(target)?.pathname ?? ""
    : target.split("?")[0];
  switch (path) {
    case "/v1/ports":
      return { status: 200, body: { ports: state.ports() } };
    case "/v1/status":
      return { status: 200, body: state.status() };
    default:
      return {
        status: 404,
        body: { error: "not found: /v1/ports, /v1/status" },
      };
  }
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
};

/** Longest request head read, in bytes. */
const MAX_HEAD_BYTES = 16 * 1024;

/** Reads one request head (up to the blank line) within `timeoutMs`. */
async function readHead(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<string | undefined> {
  const buffer = new Uint8Array(MAX_HEAD_BYTES);
  let length = 0;
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (length < buffer.length) {
      const count = await conn.read(buffer.subarray(length));
      if (count === null) return undefined;
      length += count;
      const text = new TextDecoder().decode(buffer.subarray(0, length));
      if (text.includes("\r\n\r\n")) return text;
    }
    return undefined;
  } catch {
    return undefined; // closed at the timeout, or reset
  } finally {
    clearTimeout(timer);
  }
}

/** Answers one connection: one request, one response, then close. */
async function serveConnection(
  conn: Deno.Conn,
  state: ControlState,
): Promise<void> {
  try {
    const head = await readHead(conn, 5_000);
    if (head === undefined) return;
    const [method = "", target = ""] = head.slice(0, head.indexOf("\r\n"))
      .split(" ");
    let reply: { status: number; body: unknown };
    try {
      reply = answer(method, target, state);
    } catch (error) {
      reply = { status: 500, body: { error: (error as Error).message } };
    }
    const body = new TextEncoder().encode(JSON.stringify(reply.body));
    const header = new TextEncoder().encode(
      `HTTP/1.1 ${reply.status} ${REASONS[reply.status] ?? ""}\r\n` +
        "content-type: application/json\r\n" +
        `content-length: ${body.length}\r\n` +
        "connection: close\r\n\r\n",
    );
    for (const part of [header, body]) {
      for (let written = 0; written < part.length;) {
        written += await conn.write(part.subarray(written));
      }
    }
  } catch {
    // The client went away: nothing to answer.
  } finally {
    try {
      conn.close();
    } catch { /* closed at the timeout */ }
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
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  // One descriptor held in reserve: out of descriptors, it is given up to
  // accept and answer a waiting request, then taken again, so `status`
  // keeps answering while the agent has none to spare.
  let spare: Deno.FsFile | undefined = await Deno.open("/dev/null");
  const logger = getLogger(["guest-agent", "control"]);
  let failures = 0;
  let lastError = "";
  const open = new Set<Promise<void>>();
  let closing = false;
  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) return;
        const message = (error as Error).message;
        if (message !== lastError) {
          lastError = message;
          logger.warn("control API: cannot accept a connection: {error}", {
            error: message,
          });
        }
        if (isOutOfDescriptors(error) && spare !== undefined) {
          spare.close();
          spare = undefined;
          continue; // accept with the descriptor just freed
        }
        await new Promise((resolve) =>
          setTimeout(resolve, backoffDelay(failures++, BACKOFF))
        );
        continue;
      }
      failures = 0;
      const served = serveConnection(conn, state).finally(async () => {
        open.delete(served);
        spare ??= await Deno.open("/dev/null").catch(() => undefined);
      });
      open.add(served);
    }
  })();
  return {
    path,
    async close() {
      closing = true;
      listener.close();
      await accepting;
      await Promise.all(open);
      spare?.close();
      await Deno.remove(path).catch(() => {});
    },
  };
}

const BACKOFF = { initialMs: 50, maxMs: 2_000 };

/**
 * Serves the control API at `path` unless it is "" (switched off); a socket
 * that cannot be made (not root, no /run) is logged and the agent runs
 * without it.
 */
export async function startControl(
  path: string,
  state: ControlState,
): Promise<ControlServer | undefined> {
  if (path === "") return undefined;
  const logger = getLogger(["guest-agent", "control"]);
  try {
    const server = await serveControl(path, state);
    logger.info("control API at {path} (guest-agent ports, status)", {
      path: server.path,
    });
    return server;
  } catch (error) {
    logger.warn(
      "no control API: cannot serve {path}: {error} (guest-agent ports and status will not work; see --control-socket)",
      { path, error: (error as Error).message },
    );
    return undefined;
  }
}
