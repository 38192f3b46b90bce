/**
 * A client for tests/fixtures/socket_holder.ts: a process inside a network
 * namespace that opens and closes sockets there on command, for the tests
 * and benchmarks of the /proc/net source.
 *
 * @module
 */
import type { TestNamespace } from "./netns.ts";

const HOLDER = new URL("./fixtures/socket_holder.ts", import.meta.url);

/** The socket holder of {@linkcode startSocketHolder}. */
export interface SocketHolder {
  /**
   * Sends one command (`listen tcp 0.0.0.0 8080`, `close udp :: 53`) and
   * resolves once the socket is open (or closed); rejects with the holder's
   * answer when it failed.
   */
  command(line: string): Promise<void>;
  /** Closes its stdin, so it closes every socket and exits. */
  stop(): Promise<void>;
}

/** Starts a socket holder in `ns`. */
export function startSocketHolder(
  ns: Pick<TestNamespace, "spawn">,
): SocketHolder {
  const child = ns.spawn(
    [Deno.execPath(), "run", "--allow-all", HOLDER.pathname],
    { stdin: "piped", stdout: "piped", stderr: "inherit" },
  );
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  return {
    async command(line: string) {
      await writer.write(new TextEncoder().encode(`${line}\n`));
      while (!pending.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the socket holder exited");
        pending += value;
      }
      const [reply, ...rest] = pending.split("\n");
      pending = rest.join("\n");
      if (reply !== "ok") throw new Error(`${line}: ${reply}`);
    },
    async stop() {
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await child.status;
    },
  };
}
