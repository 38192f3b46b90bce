/**
 * Kernel change notifications on netlink multicast groups, as a loop that
 * calls back once per burst: nf_tables ruleset changes for the iptables
 * source, interface and address changes for the vtunnel forwarder. The
 * messages are not decoded: any of them means "something changed". The
 * wait blocks until a message or the stop (support/kernel_wait.ts), so
 * nothing wakes while nothing changes.
 *
 * @module
 */
import { KernelWait } from "./kernel_wait.ts";
import { Libc, LibcError } from "./libc.ts";
import { ENOBUFS, netlinkSubscribe } from "./netlink.ts";

/** Calls `onChange` for every burst of changes until `signal` aborts. */
export type ChangeSubscription = (
  onChange: () => void,
  signal: AbortSignal,
) => Promise<void>;

/**
 * Subscribes to the netlink multicast `groups` of `protocol` now (so a
 * refusal throws here), and returns the loop that reports their changes.
 *
 * @param libcPath Absolute path of libc.
 * @param protocol The netlink protocol (NETLINK_ROUTE, NETLINK_NETFILTER).
 * @param groups The multicast groups to join.
 * @param what What the notifications are, for errors.
 * @throws {LibcError} or {Deno.errors.PermissionDenied} when the kernel
 *   refuses (e.g. not root for nf_tables).
 */
export function subscribeNetlinkChanges(
  libcPath: string,
  protocol: number,
  groups: readonly number[],
  what: string,
): ChangeSubscription {
  const libc = new Libc(libcPath);
  let fd: number;
  try {
    fd = netlinkSubscribe(libc, protocol, groups);
  } catch (error) {
    libc.close();
    throw error;
  }
  return async (onChange, signal) => {
    const buffer = new Uint8Array(64 * 1024);
    let waiting: KernelWait | undefined;
    try {
      const wait = waiting = new KernelWait(libc, signal);
      for (;;) {
        const result = await wait.wait([fd], -1);
        if (result.kind === "stopped") break;
        if (result.kind === "timeout") continue;
        let changed = false;
        try {
          while (libc.recvSome(fd, buffer, what) > 0) changed = true;
        } catch (error) {
          // Lost messages still mean "something changed".
          if (!(error instanceof LibcError && error.errno === ENOBUFS)) {
            throw error;
          }
          changed = true;
        }
        if (changed) onChange();
      }
    } finally {
      waiting?.close();
      libc.closeFd(fd);
      libc.close();
    }
  };
}
