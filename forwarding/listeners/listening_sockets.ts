/**
 * The sockets that serve ports in this network namespace now, for the
 * listener gate (forwarding/listeners/unserved_gate.ts): netlink socket
 * diagnostics where libc is at hand (a fraction of a millisecond), else
 * /proc/net (milliseconds per file on a machine with much memory).
 *
 * @module
 */
import type { Binding, Protocol } from "../../binding/binding.ts";
import { Libc } from "../../support/libc.ts";
import { isPublishing, parseProcNet } from "../../support/parse_proc_net.ts";
import { DIAG_QUERIES, SockDiag } from "../../support/sock_diag.ts";

const TABLES: readonly [string, Protocol][] = [
  ["tcp", "tcp"],
  ["tcp6", "tcp"],
  ["udp", "udp"],
  ["udp6", "udp"],
];

/**
 * Listening TCP sockets and bound, unconnected UDP sockets from the
 * /proc/net tables, as bindings. A table the kernel lacks (no IPv6) is
 * skipped.
 *
 * @param root The folder of the tables. @default "/proc/net"
 */
export async function readProcNetListening(
  root = "/proc/net",
): Promise<Binding[]> {
  const found: Binding[] = [];
  for (const [file, protocol] of TABLES) {
    let text: string;
    try {
      text = await Deno.readTextFile(`${root}/${file}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const socket of parseProcNet(text, protocol).sockets) {
      if (isPublishing(socket)) found.push(socket.binding);
    }
  }
  return found;
}

/**
 * A reader of the serving sockets: sock_diag through `libcPath` when given,
 * falling back to /proc/net for a read that netlink refuses.
 *
 * @param libcPath The C library, or undefined for /proc/net only.
 */
export function listeningSocketsReader(
  libcPath: string | undefined,
): () => Promise<Binding[]> {
  let diag: SockDiag | undefined;
  return () => {
    if (libcPath !== undefined) {
      try {
        diag ??= new SockDiag(new Libc(libcPath));
        return Promise.resolve(
          DIAG_QUERIES.flatMap((query) => diag!.dump(query))
            .filter(isPublishing)
            .map((socket) => socket.binding),
        );
      } catch {
        // Netlink refused (a kernel without sock_diag): /proc/net says it too.
      }
    }
    return readProcNetListening();
  };
}
