/**
 * Parsing of /proc/net/{tcp,tcp6,udp,udp6}.
 *
 * @module
 */
import {
  type Binding,
  makeBinding,
  type Protocol,
} from "../binding/binding.ts";

/** TCP_LISTEN in the kernel's `st` column. */
export const TCP_LISTEN = 0x0a;
/** TCP_CLOSE: how an unconnected bound UDP socket shows. */
export const UDP_UNCONNECTED = 0x07;

/** One socket line. */
export interface ProcNetSocket {
  /** The binding of the socket's local address. */
  readonly binding: Binding;
  /** The kernel state (`st` column). */
  readonly state: number;
  /** The remote address is unset (all zeros). */
  readonly unconnected: boolean;
  /** The socket's inode number as text. */
  readonly inode: string;
}

/** What {@linkcode parseProcNet} read. */
export interface ProcNetParse {
  /** The sockets of well-formed lines. */
  readonly sockets: ProcNetSocket[];
  /** One message per malformed line (the line's number and first bytes). */
  readonly errors: string[];
}

function decodeIpv4(hex: string): string {
  const value = parseInt(hex, 16);
  return [
    value & 0xff,
    (value >>> 8) & 0xff,
    (value >>> 16) & 0xff,
    value >>> 24,
  ]
    .join(".");
}

function decodeIpv6(hex: string): string {
  const groups: string[] = [];
  for (let word = 0; word < 4; word++) {
    const chunk = hex.slice(word * 8, word * 8 + 8);
    // Each 32-bit word is in host (little-endian) byte order.
    const bytes = [6, 4, 2, 0].map((i) => chunk.slice(i, i + 2));
    groups.push(bytes[0]! + bytes[1]!, bytes[2]! + bytes[3]!);
  }
  return groups.join(":").toLowerCase();
}

/**
 * Decodes a `HEX:PORT` address of /proc/net: 8 (IPv4) or 32 (IPv6) hex
 * digits in little-endian 32-bit words, and a big-endian hex port.
 *
 * @param text The address column.
 * @returns The address (not yet normalised) and the port.
 * @throws {SyntaxError} When the column is not of that form.
 */
export function decodeProcNetAddress(
  text: string,
): { ip: string; port: number } {
  const match = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(
    text,
  );
  if (!match) {
    throw new SyntaxError(
      `Cannot decode address ${
        JSON.stringify(text.slice(0, 60))
      }: expected HEX:PORT`,
    );
  }
  const [, ipHex, portHex] = match as unknown as [string, string, string];
  return {
    ip: ipHex.length === 8 ? decodeIpv4(ipHex) : decodeIpv6(ipHex),
    port: parseInt(portHex, 16),
  };
}

/**
 * Parses the text of one /proc/net table. Columns are found by their header
 * names (`local_address`, `rem_address` or `remote_address`, `st`, `inode`); a malformed line is
 * reported in `errors` and skipped.
 *
 * @param text The whole file.
 * @param protocol "tcp" for tcp/tcp6, "udp" for udp/udp6.
 * @returns The sockets and the errors.
 */
export function parseProcNet(text: string, protocol: Protocol): ProcNetParse {
  const lines = text.split("\n");
  const header = (lines[0] ?? "").trim().split(/\s+/);
  // The kernel prints "tx_queue rx_queue" and "tr tm->when" as one column each.
  const merged = header.filter((name) =>
    name === "rx_queue" || name === "tm->when"
  );
  const column = (name: string) => {
    const at = header.indexOf(name);
    if (at < 0) return -1;
    return at - merged.filter((m) => header.indexOf(m) < at).length;
  };
  const local = column("local_address");
  const remote = Math.max(column("rem_address"), column("remote_address"));
  const state = column("st");
  const inode = column("inode");
  if (local < 0 || state < 0) {
    return {
      sockets: [],
      errors: [
        `header lacks local_address or st: ${
          JSON.stringify((lines[0] ?? "").slice(0, 80))
        }`,
      ],
    };
  }
  const sockets: ProcNetSocket[] = [];
  const errors: string[] = [];
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.trim() === "") continue;
    try {
      const fields = line.trim().split(/\s+/);
      const localText = fields[local] ?? "";
      const stText = fields[state] ?? "";
      if (!/^[0-9A-Fa-f]{2}$/.test(stText)) {
        throw new SyntaxError(
          `Cannot read st ${JSON.stringify(stText.slice(0, 20))}: not a state`,
        );
      }
      const address = decodeProcNetAddress(localText);
      if (address.port === 0) continue;
      const remoteText = remote >= 0 ? fields[remote] ?? "" : "";
      sockets.push({
        binding: makeBinding(protocol, address.ip, address.port),
        state: parseInt(stText, 16),
        unconnected: /^[0:]+$/.test(remoteText),
        inode: inode >= 0 ? fields[inode] ?? "" : "",
      });
    } catch (error) {
      errors.push(
        `line ${index + 1} (${JSON.stringify(line.slice(0, 80))}): ${
          (error as Error).message
        }`,
      );
    }
  }
  return { sockets, errors };
}

/**
 * Keeps the sockets that publish a port: TCP in LISTEN, and UDP sockets
 * bound but not connected.
 */
export function isPublishing(socket: ProcNetSocket): boolean {
  return socket.binding.protocol === "tcp"
    ? socket.state === TCP_LISTEN
    : socket.state === UDP_UNCONNECTED && socket.unconnected;
}
