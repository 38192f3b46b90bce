/**
 * The loopback DNAT rules (docs/protocols.md, "iptables rules"), as iptables argument arrays.
 *
 * A binding on 127.0.0.1 gets an engine rule that only matches destination
 * 127.0.0.1, so traffic arriving on eth0 from the host misses it. The agent
 * adds an any-destination DNAT rule for it, in a chain of its own that
 * PREROUTING jumps to for local destinations: one place to list, never
 * touched by the engines' own chain rewrites, removed whole at shutdown.
 *
 * @module
 */
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { isIpv4 } from "../../binding/ip.ts";

/** The agent's own NAT chain. */
export const DNAT_CHAIN = "GUEST-AGENT-DNAT";

/** Where a loopback binding's traffic is sent. */
export interface DnatTarget {
  /** tcp or udp. */
  readonly protocol: "tcp" | "udp";
  /** The host port matched. */
  readonly hostPort: number;
  /** The container's IPv4 address. */
  readonly containerIp: string;
  /** The container's port. */
  readonly containerPort: number;
}

/** The container engines' source names, where no registry says otherwise. */
export const DEFAULT_ENGINE_SOURCES: ReadonlySet<string> = new Set([
  "docker",
  "containerd",
]);

/**
 * The DNAT target of a binding: a binding on 127.0.0.1 held by a container
 * engine's source whose entry knows an IPv4 container address and the
 * container port.
 *
 * @param tracked The binding, as the tracker holds it.
 * @param engines The engines' source names (the sources that observe engine-ports).
 * @returns The target, or undefined when the binding needs no rule or lacks the facts.
 */
export function dnatTarget(
  tracked: TrackedBinding,
  engines: ReadonlySet<string> = DEFAULT_ENGINE_SOURCES,
): DnatTarget | undefined {
  if (tracked.binding.hostIp !== "127.0.0.1") return undefined;
  for (const { source, entry } of tracked.holders) {
    if (!engines.has(source)) continue;
    const containerIp = entry.containerIps?.find(isIpv4);
    if (containerIp && entry.containerPort) {
      return {
        protocol: tracked.binding.protocol,
        hostPort: tracked.binding.hostPort,
        containerIp,
        containerPort: entry.containerPort,
      };
    }
  }
  return undefined;
}

/** The rule's match and target, after `-A|-C|-D <chain>`. */
export function dnatRuleArgs(target: DnatTarget): string[] {
  return [
    "-p",
    target.protocol,
    "-m",
    target.protocol,
    "--dport",
    String(target.hostPort),
    "-j",
    "DNAT",
    "--to-destination",
    `${target.containerIp}:${target.containerPort}`,
  ];
}

/** The PREROUTING rule that sends local destinations through our chain. */
export const JUMP_ARGS: readonly string[] = [
  "-m",
  "addrtype",
  "--dst-type",
  "LOCAL",
  "-j",
  DNAT_CHAIN,
];
