/**
 * Who holds a binding, in the words log lines use.
 *
 * @module
 */
import type { TrackedBinding } from "./port_tracker.ts";

/** "docker:web1, iptables:rule-3": who holds a binding, for log lines. */
export function describeOwners(binding: TrackedBinding): string {
  if (binding.holders.length === 0) return "none";
  return binding.holders
    .map((holder) =>
      `${holder.source}:${holder.entry.name ?? holder.entry.ownerId}`
    )
    .join(", ");
}
