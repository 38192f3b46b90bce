/**
 * Netlink sockets through libc (support/libc.ts): a multicast subscription
 * (change notifications, support/netlink_changes.ts) and a request socket
 * (socket diagnostics, support/sock_diag.ts).
 *
 * @module
 */
import { type Libc, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET } from "./libc.ts";

/** AF_NETLINK. */
export const AF_NETLINK = 16;
/** Netlink protocol of nfnetlink (nf_tables change notifications). */
export const NETLINK_NETFILTER = 12;
/** nfnetlink multicast group announcing every nf_tables ruleset change. */
export const NFNLGRP_NFTABLES = 7;
/** Netlink protocol of socket diagnostics (what `ss` uses). */
export const NETLINK_SOCK_DIAG = 4;
/** Netlink protocol of routing: links, addresses, routes. */
export const NETLINK_ROUTE = 0;
/** rtnetlink multicast group: links came, went or changed state. */
export const RTNLGRP_LINK = 1;
/** rtnetlink multicast group: IPv4 addresses added or removed. */
export const RTNLGRP_IPV4_IFADDR = 5;
/** rtnetlink multicast group: IPv6 addresses added or removed. */
export const RTNLGRP_IPV6_IFADDR = 9;
/** errno: a netlink socket's receive buffer overflowed (messages lost). */
export const ENOBUFS = 105;
const SOCK_RAW = 3;
const SOCK_DGRAM = 2;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;

/** Binds a netlink socket; the kernel picks its address. */
function bindNetlink(libc: Libc, fd: number, what: string): void {
  // struct sockaddr_nl: family u16, pad u16, pid u32 (0: the kernel
  // picks), groups u32 (0: join with setsockopt).
  const address = new Uint8Array(12);
  new DataView(address.buffer).setUint16(0, AF_NETLINK, true);
  if (libc.symbols.bind(fd, address, address.length) < 0) {
    libc.fail("bind", what);
  }
}

/**
 * Opens a non-blocking netlink socket of `protocol` and joins the
 * multicast `groups` (root is needed for most of them).
 *
 * @returns The socket's file descriptor.
 * @throws {LibcError} or {Deno.errors.PermissionDenied} when refused.
 */
export function netlinkSubscribe(
  libc: Libc,
  protocol: number,
  groups: readonly number[],
): number {
  const { socket, setsockopt } = libc.symbols;
  const what = `netlink protocol ${protocol}`;
  const fd = socket(
    AF_NETLINK,
    SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
    protocol,
  );
  if (fd < 0) libc.fail("open a socket for", what);
  try {
    bindNetlink(libc, fd, what);
    for (const group of groups) {
      const value = new Int32Array([group]);
      if (
        setsockopt(
          fd,
          SOL_NETLINK,
          NETLINK_ADD_MEMBERSHIP,
          new Uint8Array(value.buffer),
          4,
        ) < 0
      ) {
        libc.fail("join multicast group", `${group} of ${what}`);
      }
    }
    return fd;
  } catch (error) {
    libc.closeFd(fd);
    throw error;
  }
}

/**
 * Opens a blocking netlink datagram socket of `protocol` whose receives
 * give up after `timeoutMs` (for request/reply exchanges with the kernel).
 *
 * @returns The socket's file descriptor.
 */
export function netlinkRequestSocket(
  libc: Libc,
  protocol: number,
  timeoutMs: number,
): number {
  const { socket, setsockopt } = libc.symbols;
  const what = `netlink protocol ${protocol}`;
  const fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol);
  if (fd < 0) libc.fail("open a socket for", what);
  // struct timeval: tv_sec i64, tv_usec i64.
  const timeout = new BigInt64Array([
    BigInt(Math.floor(timeoutMs / 1000)),
    BigInt((timeoutMs % 1000) * 1000),
  ]);
  if (
    setsockopt(
      fd,
      SOL_SOCKET,
      SO_RCVTIMEO,
      new Uint8Array(timeout.buffer),
      16,
    ) < 0
  ) {
    const errno = libc.errno();
    libc.closeFd(fd);
    libc.failWith("set a receive timeout on", what, errno);
  }
  return fd;
}
