/**
 * Replays PortMapping messages (the privileged service's JSON) as a set of
 * what the peer holds now, for tests that compare a receiver's messages
 * with the bindings they should add up to.
 *
 * @module
 */

/** One PortMapping message, as tests read it. */
interface PortMappingMessage {
  readonly remove: boolean;
  readonly ports: Record<string, { HostIp: string; HostPort: string }[]>;
}

/**
 * The mappings `messages` leave in place, in order: each add puts, each
 * remove takes away, "<container port>/<proto> <HostIp> <HostPort>", sorted.
 */
export function liveMappings(messages: readonly string[]): string[] {
  const live = new Set<string>();
  for (const message of messages) {
    const parsed = JSON.parse(message) as PortMappingMessage;
    for (const [port, hosts] of Object.entries(parsed.ports)) {
      for (const host of hosts) {
        const key = `${port} ${host.HostIp} ${host.HostPort}`;
        if (parsed.remove) live.delete(key);
        else live.add(key);
      }
    }
  }
  return [...live].sort();
}
