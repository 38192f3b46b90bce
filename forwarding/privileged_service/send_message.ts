/**
 * One message, one connection: connect, write, close our side, and wait for
 * the peer to close its side (docs/protocols.md, "Privileged service PortMapping"). The Go peers read to EOF and
 * then close, so an in-order close is the only sign the message was read: a
 * write that "completes" has only reached our kernel's buffer, and a peer
 * that resets the connection or never reads has lost it.
 *
 * @module
 */
import type { VtunnelTarget } from "../vtunnel_target.ts";

/** Sends bytes to a target and closes; how vsock is reached is injected. */
export type MessageSender = (
  target: VtunnelTarget,
  bytes: Uint8Array,
  timeoutMs: number,
) => Promise<void>;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

function describe(target: VtunnelTarget): string {
  switch (target.transport) {
    case "tcp":
      return `tcp://${target.hostname}:${target.port}`;
    case "unix":
      return `unix://${target.path}`;
    case "vsock":
      return `vsock://${target.cid}:${target.port}`;
  }
}

/** Reads until the peer closes in order; what it sends is dropped (bounded). */
async function awaitStreamClose(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  for (let total = 0; total < 1024 * 1024;) {
    const count = await conn.read(buffer);
    if (count === null) return;
    total += count;
  }
  throw new Error(
    "Cannot confirm the message: the peer sent more than 1 MiB instead of closing",
  );
}

/**
 * Sends one message over TCP or a unix socket: connect, write everything,
 * close our writing side, then wait until the peer closes in order, all
 * within `timeoutMs`. A vsock target is refused here (it goes through the
 * FFI shim).
 *
 * @throws {Error} Naming the target when connecting or writing fails, the
 *   peer resets the connection, or it does not close within `timeoutMs`.
 */
export async function sendOverStream(
  target: VtunnelTarget,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  if (target.transport === "vsock") {
    throw new TypeError(
      "Cannot send over vsock with Deno.connect: use the vsock sender",
    );
  }
  const where = describe(target);
  const deadline = AbortSignal.timeout(timeoutMs);
  let conn: Deno.Conn | undefined;
  let closed = false;
  const close = () => {
    if (closed || conn === undefined) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const work = (async () => {
    conn = target.transport === "tcp"
      ? await Deno.connect({
        hostname: target.hostname,
        port: target.port,
        signal: deadline,
      })
      : await Deno.connect({ transport: "unix", path: target.path });
    // A connect that lands after the deadline is closed at once.
    if (deadline.aborted) return close();
    await writeAll(conn, bytes);
    await conn.closeWrite();
    await awaitStreamClose(conn);
  })();
  const timedOut = new Promise<never>((_, reject) =>
    deadline.addEventListener("abort", () => {
      close(); // wakes a write the peer is not reading
      reject(
        new Error(
          `Cannot confirm the message: the peer did not read it and close within ${timeoutMs} ms`,
        ),
      );
    }, { once: true })
  );
  try {
    await Promise.race([work, timedOut]);
  } catch (error) {
    work.catch(() => {});
    throw new Error(`Cannot send to ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    close();
  }
}
