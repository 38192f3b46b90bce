/**
 * One message over a raw socket through the libc shim: AF_VSOCK straight to
 * the host, AF_UNIX and AF_INET/AF_INET6 (the same calls with another
 * address, which is how the path is tested: never connect a vsock socket on
 * our machines).
 *
 * @module
 */
import { AF_UNIX, AF_VSOCK, Libc } from "../../support/libc.ts";
import {
  awaitPeerClose,
  connectStart,
  shutdownWrite,
  socketError,
  streamSocket,
  waitWritable,
  writableNow,
} from "./stream_socket.ts";
import type { MessageSender } from "./send_message.ts";
import type { VtunnelTarget } from "../vtunnel_target.ts";
import { isIpv4, isIpv6, normaliseHostIp } from "../../binding/ip.ts";

/**
 * `struct sockaddr_vm` (16 bytes): family u16 = 40, reserved u16, port u32,
 * cid u32 (little-endian, as the kernel reads them on x86_64 and arm64),
 * flags u8, zero[3].
 */
export function vsockAddress(cid: number, port: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_VSOCK, true);
  view.setUint32(4, port >>> 0, true);
  view.setUint32(8, cid >>> 0, true);
  return bytes;
}

/** `struct sockaddr_un` for a path of at most 107 bytes. */
export function unixAddress(path: string): Uint8Array {
  const encoded = new TextEncoder().encode(path);
  if (encoded.length > 107) {
    throw new RangeError(
      `Cannot use unix socket path ${path}: longer than 107 bytes`,
    );
  }
  const bytes = new Uint8Array(2 + encoded.length + 1);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(encoded, 2);
  return bytes;
}

/**
 * Connects, writes all of `bytes`, shuts down writing and waits for the
 * peer to close in order; everything within `timeoutMs`.
 *
 * @param libc The shim.
 * @param family AF_VSOCK or AF_UNIX.
 * @param address The packed socket address.
 * @param what The target, for error messages.
 */
export async function sendOverSocket(
  libc: Libc,
  family: number,
  address: Uint8Array,
  what: string,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const timedOut = () =>
    new Error(`Cannot send to ${what}: timed out after ${timeoutMs} ms`);
  const fd = streamSocket(libc, family);
  try {
    // Connect, send and shut down without an await where the socket lets
    // us: the message is out before the caller's turn of the event loop
    // ends (and before whatever it logs).
    if (connectStart(libc, fd, address, what) !== 0) {
      if (
        !writableNow(libc, fd) && !await waitWritable(libc, fd, deadline)
      ) {
        throw timedOut();
      }
      const error = socketError(libc, fd);
      if (error !== 0) libc.failWith("connect to", what, error);
    }
    let sent = 0;
    while (sent < bytes.length) {
      const count = libc.sendSome(fd, bytes.subarray(sent), what);
      if (
        count === 0 && !writableNow(libc, fd) &&
        !await waitWritable(libc, fd, deadline)
      ) {
        throw timedOut();
      }
      sent += count;
    }
    // Delivered only once the peer read it all and closed (see
    // send_message.ts): a reset or a silent peer is a failure.
    shutdownWrite(libc, fd, what);
    if (!await awaitPeerClose(libc, fd, deadline, what)) {
      throw new Error(
        `Cannot send to ${what}: the peer did not read the message and close within ${timeoutMs} ms`,
      );
    }
  } finally {
    libc.closeFd(fd);
  }
}

/** AF_INET. */
const AF_INET = 2;
/** AF_INET6. */
const AF_INET6 = 10;

/**
 * `struct sockaddr_in` (16 bytes) or `struct sockaddr_in6` (28 bytes) for an
 * IPv4 or IPv6 literal: family in host order, port in network order.
 *
 * @returns The address, or undefined when `hostname` is not an IP literal.
 */
export function inetAddress(
  hostname: string,
  port: number,
): Uint8Array | undefined {
  if (isIpv4(hostname)) {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET, true);
    view.setUint16(2, port, false);
    bytes.set(hostname.split(".").map(Number), 4);
    return bytes;
  }
  if (isIpv6(hostname)) {
    const bytes = new Uint8Array(28);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, AF_INET6, true);
    view.setUint16(2, port, false);
    const groups = ipv6Groups(hostname);
    groups.forEach((group, i) => view.setUint16(8 + 2 * i, group, false));
    return bytes;
  }
  return undefined;
}

/** The eight groups of an IPv6 address already checked by isIpv6. */
function ipv6Groups(text: string): number[] {
  const normal = normaliseHostIp(text);
  const [head = "", tail] = normal.split("::");
  const parse = (part: string) =>
    part === "" ? [] : part.split(":").map((group) => parseInt(group, 16));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [
    ...front,
    ...new Array<number>(8 - front.length - back.length).fill(0),
    ...back,
  ];
}

/**
 * A sender that goes through the libc shim wherever it can, because only
 * the shim sees a reset: Deno's socket read reports a peer's reset as an
 * ordinary end of stream, so a message a peer threw away would count as
 * delivered. `vsock://` always goes through it (Deno has no vsock), `unix://`
 * and `host:port` with an IP literal too; a host name is handed to
 * `fallback` (Deno's own sockets, which resolve names; there a silent peer
 * is still caught by the timeout, a reset is not).
 *
 * @param libcPath The absolute path of libc.
 * @param fallback The sender for host names.
 */
export function libcSocketSender(
  libcPath: string,
  fallback: MessageSender,
): MessageSender {
  let libc: Libc | undefined;
  // A forwarder sends to one target object for its life: its address is
  // packed once, not per message.
  const packed = new WeakMap<VtunnelTarget, PackedTarget>();
  return (target, bytes, timeoutMs) => {
    let found = packed.get(target);
    if (found === undefined) {
      found = packTarget(target);
      packed.set(target, found);
    }
    const [family, address, what] = found;
    if (address === undefined) return fallback(target, bytes, timeoutMs);
    libc ??= new Libc(libcPath);
    return sendOverSocket(libc, family, address, what, bytes, timeoutMs);
  };
}

/** A target's family, packed address (undefined: a host name) and name. */
type PackedTarget = [
  family: number,
  address: Uint8Array | undefined,
  what: string,
];

function packTarget(target: VtunnelTarget): PackedTarget {
  switch (target.transport) {
    case "vsock":
      return [
        AF_VSOCK,
        vsockAddress(target.cid, target.port),
        `vsock://${target.cid}:${target.port}`,
      ];
    case "unix":
      return [AF_UNIX, unixAddress(target.path), `unix://${target.path}`];
    case "tcp":
      return [
        target.hostname.includes(":") ? AF_INET6 : AF_INET,
        inetAddress(target.hostname, target.port),
        `tcp://${target.hostname}:${target.port}`,
      ];
  }
}
