/**
 * The sockets that serve ports in this network namespace now, read from
 * /proc/net (for the listener gate: forwarding/listeners/unserved_gate.ts).
 *
 * @module
 */
import type { Binding, Protocol } from "../tracker/binding.ts";
import {
  isPublishing,
  parseProcNet,
} from "../sources/procnet/parse_proc_net.ts";

const TABLES: readonly [string, Protocol][] = [
  ["tcp", "tcp"],
  ["tcp6", "tcp"],
  ["udp", "udp"],
  ["udp6", "udp"],
];

/**
 * Listening TCP sockets and bound, unconnected UDP sockets, as bindings. A
 * table the kernel does not have (no IPv6) is skipped.
 *
 * @param root The folder of the tables. @default "/proc/net"
 */
export async function listeningSockets(
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
