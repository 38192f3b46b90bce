/**
 * nf_tables change notifications: the kernel announces every ruleset change
 * (NEWRULE, DELRULE, NEWGEN, …) on the nfnetlink multicast group
 * NFNLGRP_NFTABLES (support/netlink_changes.ts).
 *
 * @module
 */
import {
  type ChangeSubscription,
  subscribeNetlinkChanges,
} from "../../support/netlink_changes.ts";
import { NETLINK_NETFILTER, NFNLGRP_NFTABLES } from "../../support/netlink.ts";

export type { ChangeSubscription };

/**
 * Subscribes to nf_tables changes now (so a refusal throws here), and
 * returns the loop that reports them.
 *
 * @param libcPath Absolute path of libc.
 * @throws {LibcError} or {Deno.errors.PermissionDenied} when the kernel
 *   refuses (not root, no nf_tables).
 */
export function subscribeNftChanges(libcPath: string): ChangeSubscription {
  return subscribeNetlinkChanges(
    libcPath,
    NETLINK_NETFILTER,
    [NFNLGRP_NFTABLES],
    "nf_tables notifications",
  );
}
