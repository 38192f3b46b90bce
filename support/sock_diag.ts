/**
 * Listening sockets through netlink socket diagnostics (NETLINK_SOCK_DIAG,
 * what `ss` uses): the kernel walks only the sockets in the asked states,
 * where reading /proc/net/tcp walks the whole connection hash table (slow on
 * a machine with much memory, even with no sockets).
 * Encoding and decoding are pure; {@linkcode SockDiag} does the I/O.
 *
 * @module
 */
import { makeBinding, type Protocol } from "../binding/binding.ts";
import type { Libc } from "./libc.ts";
import { NETLINK_SOCK_DIAG, netlinkRequestSocket } from "./netlink.ts";
import {
  type ProcNetSocket,
  TCP_LISTEN,
  UDP_UNCONNECTED,
} from "./parse_proc_net.ts";

const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSG_HEADER = 16;
const INET_DIAG_MSG = 72;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** One dump to ask for: a family and protocol, in the states that publish. */
export interface DiagQuery {
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** tcp (LISTEN) or udp (unconnected). */
  readonly protocol: Protocol;
}

/** The four dumps a scan makes. */
export const DIAG_QUERIES: readonly DiagQuery[] = [
  { family: 4, protocol: "tcp" },
  { family: 6, protocol: "tcp" },
  { family: 4, protocol: "udp" },
  { family: 6, protocol: "udp" },
];

/**
 * The request of a dump: nlmsghdr + inet_diag_req_v2 (72 bytes).
 *
 * @param query Family and protocol.
 * @param sequence The message's sequence number.
 */
export function encodeDiagRequest(
  query: DiagQuery,
  sequence: number,
): Uint8Array {
  const bytes = new Uint8Array(NLMSG_HEADER + 56);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  view.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  view.setUint32(8, sequence >>> 0, true);
  view.setUint32(12, 0, true);
  view.setUint8(16, query.family === 4 ? AF_INET : AF_INET6);
  view.setUint8(17, query.protocol === "tcp" ? IPPROTO_TCP : IPPROTO_UDP);
  const state = query.protocol === "tcp" ? TCP_LISTEN : UDP_UNCONNECTED;
  view.setUint32(20, 1 << state, true); // idiag_states
  return bytes;
}

function address(bytes: Uint8Array, offset: number, family: number): string {
  if (family === AF_INET) {
    return Array.from(bytes.subarray(offset, offset + 4)).join(".");
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(
      ((bytes[offset + i]! << 8) | bytes[offset + i + 1]!).toString(16),
    );
  }
  return groups.join(":");
}

/** What one reply datagram held. */
export interface DiagReply {
  /** The sockets in it. */
  readonly sockets: ProcNetSocket[];
  /** The dump ended (NLMSG_DONE). */
  readonly done: boolean;
}

/**
 * Decodes one datagram of a dump's reply.
 *
 * @param bytes The datagram.
 * @param protocol The protocol asked for.
 * @throws {Error} For an NLMSG_ERROR reply (its errno), or a truncated message.
 */
export function decodeDiagReply(
  bytes: Uint8Array,
  protocol: Protocol,
): DiagReply {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sockets: ProcNetSocket[] = [];
  let offset = 0;
  while (offset + NLMSG_HEADER <= bytes.length) {
    const length = view.getUint32(offset, true);
    const type = view.getUint16(offset + 4, true);
    if (length < NLMSG_HEADER || offset + length > bytes.length) {
      throw new RangeError(
        `Cannot decode sock_diag reply: message of ${length} bytes at ${offset} of ${bytes.length}`,
      );
    }
    if (type === NLMSG_DONE) return { sockets, done: true };
    if (type === NLMSG_ERROR) {
      const errno = length >= NLMSG_HEADER + 4
        ? -view.getInt32(offset + NLMSG_HEADER, true)
        : 0;
      throw new Error(
        `Cannot dump sockets: sock_diag refused (errno ${errno})`,
      );
    }
    if (
      type === SOCK_DIAG_BY_FAMILY && length >= NLMSG_HEADER + INET_DIAG_MSG
    ) {
      const body = offset + NLMSG_HEADER;
      const family = bytes[body]!;
      const state = bytes[body + 1]!;
      const sport = view.getUint16(body + 4, false);
      const dport = view.getUint16(body + 6, false);
      const remote = bytes.subarray(body + 24, body + 40);
      sockets.push({
        binding: makeBinding(protocol, address(bytes, body + 8, family), sport),
        state,
        unconnected: dport === 0 && remote.every((byte) => byte === 0),
        inode: String(view.getUint32(body + 68, true)),
      });
    }
    offset += (length + 3) & ~3;
  }
  return { sockets, done: false };
}

/** Dumps listening sockets over one netlink socket, reopened after errors. */
export class SockDiag {
  readonly #libc: Libc;
  #fd: number | undefined;
  #sequence = 1;
  readonly #buffer = new Uint8Array(64 * 1024);

  /** Uses `libc` (owned by the caller). */
  constructor(libc: Libc) {
    this.#libc = libc;
  }

  /**
   * The sockets of one family and protocol in their publishing state.
   *
   * @throws {Error} When netlink refuses or does not answer within 1 s.
   */
  dump(query: DiagQuery): ProcNetSocket[] {
    this.#fd ??= netlinkRequestSocket(this.#libc, NETLINK_SOCK_DIAG, 1_000);
    const fd = this.#fd;
    try {
      const request = encodeDiagRequest(query, this.#sequence++);
      if (this.#libc.sendSome(fd, request, "sock_diag") !== request.length) {
        throw new Error(
          "Cannot dump sockets: sock_diag took part of the request",
        );
      }
      const sockets: ProcNetSocket[] = [];
      for (;;) {
        const count = this.#libc.recvSome(fd, this.#buffer, "sock_diag");
        if (count === 0) {
          throw new Error(
            "Cannot dump sockets: sock_diag did not answer within 1 s",
          );
        }
        const reply = decodeDiagReply(
          this.#buffer.subarray(0, count),
          query.protocol,
        );
        sockets.push(...reply.sockets);
        if (reply.done) return sockets;
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Closes the netlink socket. */
  close(): void {
    if (this.#fd !== undefined) this.#libc.closeFd(this.#fd);
    this.#fd = undefined;
  }
}
