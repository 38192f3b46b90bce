/**
 * The client side of the control socket: checks that the socket is the
 * agent's (a socket, mode 0600, owned by root or the caller) before asking
 * it anything, and turns "nothing there" into a clear message.
 *
 * @module
 */

/** The agent cannot be asked: none runs, or its socket is not trusted. */
export class ControlError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ControlError";
  }
}

/**
 * Checks the control socket at `path` before it is used.
 *
 * @throws {ControlError} When it is missing, not a socket, open to other
 *   users or owned by another user.
 */
export async function checkControlSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ControlError(
        `Cannot reach the agent: no control socket at ${path} (is the agent started, with this --control-socket?)`,
      );
    }
    throw new ControlError(
      `Cannot read the control socket ${path}: ${(error as Error).message}`,
    );
  }
  if (!info.isSocket) {
    throw new ControlError(
      `Cannot use ${path} as the control socket: it is not a socket`,
    );
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ControlError(
      `Cannot trust the control socket ${path}: mode ${
        mode.toString(8).padStart(4, "0")
      } lets other users in (the agent makes it 0600)`,
    );
  }
  const uid = Deno.uid();
  if (info.uid !== 0 && info.uid !== uid) {
    throw new ControlError(
      `Cannot trust the control socket ${path}: owned by uid ${info.uid}, not root or you (uid ${uid})`,
    );
  }
}

/**
 * GETs `endpoint` (e.g. "/v1/ports") from the agent at `path`.
 *
 * @throws {ControlError} When no agent answers or the socket is not trusted.
 */
export async function queryControl(
  path: string,
  endpoint: string,
): Promise<unknown> {
  await checkControlSocket(path);
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path },
  });
  try {
    const response = await fetch(`http://guest-agent${endpoint}`, {
      client,
      signal: AbortSignal.timeout(5_000),
    });
    const body = await response.json();
    if (!response.ok) {
      throw new ControlError(
        `Cannot query ${endpoint}: the agent answered ${response.status}: ${
          JSON.stringify(body)
        }`,
      );
    }
    return body;
  } catch (error) {
    if (error instanceof ControlError) throw error;
    throw new ControlError(
      `Cannot reach the agent at ${path}: ${
        (error as Error).message
      } (a socket left by an agent that stopped?)`,
    );
  } finally {
    client.close();
  }
}
