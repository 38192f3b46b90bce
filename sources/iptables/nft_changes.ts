/**
 * nf_tables change notifications: the kernel announces every ruleset change
 * (NEWRULE, DELRULE, NEWGEN, …) on the nfnetlink multicast group
 * NFNLGRP_NFTABLES. Subscribed through libc (support/libc.ts); the messages
 * are not decoded: any of them means "rescan". The wait blocks until a
 * message or the stop (support/kernel_wait.ts): nothing wakes while the
 * rules stay as they are.
 *
 * @module
 */
import { KernelWait } from "../../support/kernel_wait.ts";
import { Libc, LibcError } from "../../support/libc.ts";
import {
  ENOBUFS,
  NETLINK_NETFILTER,
  netlinkSubscribe,
  NFNLGRP_NFTABLES,
} from "../../support/netlink.ts";

/** Calls `onChange` for every burst of ruleset changes until stopped. */
export type ChangeSubscription = (
  onChange: () => void,
  signal: AbortSignal,
) => Promise<void>;

/**
 * Subscribes to nf_tables changes now (so a refusal throws here), and
 * returns the loop that reports them.
 *
 * @param libcPath Absolute path of libc.
 * @throws {LibcError} or {Deno.errors.PermissionDenied} when the kernel
 *   refuses (not root, no nf_tables).
 */
export function subscribeNftChanges(libcPath: string): ChangeSubscription {
  const libc = new Libc(libcPath);
  let fd: number;
  try {
    fd = netlinkSubscribe(libc, NETLINK_NETFILTER, [NFNLGRP_NFTABLES]);
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
          while (libc.recvSome(fd, buffer, "nf_tables notifications") > 0) {
            changed = true;
          }
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
