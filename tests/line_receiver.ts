/**
 * A receiver for one-message-per-connection protocols (the privileged
 * service's side, reduced to what tests need): records each connection's
 * bytes as one message.
 *
 * @module
 */
import { wallClockMs } from "../support/clock.ts";

/** A running receiver. */
export interface LineReceiver {
  /** Each connection's bytes, decoded, in the order connections ended. */
  readonly messages: string[];
  /** When each message was complete (wall-clock ms, see wallClockMs). */
  readonly receivedAt: number[];
  /** The address it listens on. */
  readonly addr: Deno.Addr;
  /** Stops listening and waits for open connections to end. */
  close(): Promise<void>;
}

/**
 * Listens on TCP (127.0.0.1) or a unix socket and records messages.
 *
 * @param options Where to listen: a TCP port (0 for any) or a unix path.
 * @param onMessage Called with each message as it completes.
 */
export function startLineReceiver(
  options: { port: number } | { path: string },
  onMessage?: (message: string) => void,
): LineReceiver {
  const listener = "path" in options
    ? Deno.listen({ transport: "unix", path: options.path })
    : Deno.listen({ hostname: "127.0.0.1", port: options.port });
  const messages: string[] = [];
  const receivedAt: number[] = [];
  const pending = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      const done = (async () => {
        const chunks: Uint8Array[] = [];
        for await (const chunk of conn.readable) chunks.push(chunk);
        messages.push(new TextDecoder().decode(
          new Uint8Array(chunks.flatMap((chunk) => [...chunk])),
        ));
        receivedAt.push(wallClockMs());
        onMessage?.(messages.at(-1)!);
      })().catch(() => {});
      pending.add(done);
      done.finally(() => pending.delete(done));
    }
  })().catch(() => {});
  return {
    messages,
    receivedAt,
    addr: listener.addr,
    async close() {
      listener.close();
      await accepting;
      await Promise.all(pending);
    },
  };
}
