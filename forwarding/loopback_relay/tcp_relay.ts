/**
 * A TCP relay: every connection accepted on a listener gets a connection to
 * one target, and bytes are copied both ways until both directions have
 * ended. A half-close is kept: when one side ends its writing, the other
 * side's writing is ended too (`closeWrite`) and the opposite direction goes
 * on, as a client that sends a request and then shuts down its write side
 * expects. A reset or a refused target closes both connections.
 *
 * @module
 */

/** Where a relay connects. */
export interface RelayTarget {
  /** "127.0.0.1" or "::1". */
  readonly hostname: string;
  /** The port. */
  readonly port: number;
}

/** A running relay. */
export interface Relay {
  /** Stops accepting (or receiving) and closes every connection (or session). */
  close(): void;
  /** Settles once everything is closed. */
  readonly done: Promise<void>;
  /** Connections (or sessions) open now. */
  sessions(): number;
  /** Keys of the sockets it holds in the VM (bound, not connected), for /proc/net to skip. */
  boundKeys(): string[];
}

const BUFFER_BYTES = 64 * 1024;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Copies `from` to `to` until `from` ends; then ends `to`'s writing. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(BUFFER_BYTES);
  for (;;) {
    const count = await from.read(buffer);
    if (count === null) {
      await to.closeWrite();
      return;
    }
    await writeAll(to, buffer.subarray(0, count));
  }
}

function closeQuietly(conn: Deno.Conn | Deno.Listener): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

/**
 * Relays every connection `listener` accepts to `target`.
 *
 * @param listener A listener the relay owns (it closes it).
 * @param target Where each connection goes.
 * @param boundKey The listener's binding key (`tcp/<ip>:<port>`).
 */
export function relayTcp(
  listener: Deno.Listener,
  target: RelayTarget,
  boundKey: string,
): Relay {
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<void>>();
  let closed = false;

  const pipe = async (client: Deno.Conn) => {
    open.add(client);
    let upstream: Deno.Conn | undefined;
    const closeBoth = () => {
      closeQuietly(client);
      if (upstream) closeQuietly(upstream);
    };
    try {
      upstream = await Deno.connect({
        hostname: target.hostname,
        port: target.port,
      });
      open.add(upstream);
      if (closed) return;
      // Either direction failing (a reset) ends both: the other read wakes.
      const up = copy(client, upstream).catch(closeBoth);
      const down = copy(upstream, client).catch(closeBoth);
      await Promise.all([up, down]);
    } catch {
      // The target refused or is gone: the client sees its connection end.
    } finally {
      closeBoth();
      open.delete(client);
      if (upstream) open.delete(upstream);
    }
  };

  const accepting = (async () => {
    while (!closed) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        // Closed, or out of descriptors: the relay stops accepting.
        break;
      }
      const piping = pipe(client);
      pipes.add(piping);
      piping.finally(() => pipes.delete(piping));
    }
  })();

  return {
    close() {
      if (closed) return;
      closed = true;
      closeQuietly(listener);
      for (const conn of open) closeQuietly(conn);
    },
    done: accepting.then(async () => {
      await Promise.all([...pipes]);
    }),
    sessions: () => pipes.size,
    boundKeys: () => closed ? [] : [boundKey],
  };
}
