/**
 * The mode table, in one place: which forwarders get which bindings, from
 * what each binding's sources observe (their descriptors, sources/registry.ts)
 * and which observations each forwarder takes in each mode (its descriptor,
 * forwarding/registry.ts).
 *
 * @module
 */
import { type SourceRegistry, SOURCES } from "../sources/registry.ts";
import { type ForwarderRegistry, FORWARDERS } from "../forwarding/registry.ts";
import type { Sighting } from "../forwarding/descriptor.ts";
import type { AgentMode, Observation } from "../binding/modes.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/**
 * The forwarders (by name) that should have a binding.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, type Route, routeFor } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const route: Route = routeFor("privileged");
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * const held = { key: "tcp/0.0.0.0:80", binding, holders: [{ source: "docker", entry: { ownerId: "c1", binding } }] };
 * assert.deepEqual(route(held), ["privileged-service"]);
 * ```
 */
export type Route = (binding: TrackedBinding) => readonly string[];

/**
 * The route of `mode`: for each binding, what its holders' sources observe
 * (a holder whose source is not in the registry, the agent's own "agent"
 * binding of the Kubernetes API port, observes `agent-own`), then each
 * forwarder of the mode that takes such a sighting, in registry order.
 *
 * @param mode The agent's mode.
 * @param registry The sources. @default SOURCES
 * @param forwarders The forwarders. @default FORWARDERS
 * @returns Forwarder names, without duplicates, in registry order.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, routeFor } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const route = routeFor("host-switch");
 * const binding = makeBinding("tcp", "127.0.0.1", 8080);
 * const held = { key: "tcp/127.0.0.1:8080", binding, holders: [{ source: "docker", entry: { ownerId: "c1", binding } }] };
 * // An engine's loopback binding also gets a DNAT rule in host-switch mode.
 * assert.deepEqual(route(held), ["host-switch", "wsl-proxy", "dnat"]);
 * ```
 */
export function routeFor(
  mode: AgentMode,
  registry: SourceRegistry = SOURCES,
  forwarders: ForwarderRegistry = FORWARDERS,
): (tracked: TrackedBinding) => string[] {
  const observes = new Map<string, Observation>(
    registry.map((source) => [source.name, source.observes]),
  );
  const ofMode = forwarders.filter((forwarder) =>
    forwarder.modes.includes(mode)
  );
  return (tracked) => {
    const sighting: Sighting = {
      binding: tracked.binding,
      observations: new Set(
        tracked.holders.map((holder) =>
          observes.get(holder.source) ?? "agent-own"
        ),
      ),
    };
    return ofMode.filter((forwarder) => forwarder.takes(mode, sighting))
      .map((forwarder) => forwarder.name);
  };
}

/**
 * The forwarders that should have `binding` in `mode` (see
 * {@linkcode routeFor}).
 *
 * @example Usage
 * ```ts
 * import { makeBinding, routeBinding } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const binding = makeBinding("tcp", "0.0.0.0", 30080);
 * const held = { key: "tcp/0.0.0.0:30080", binding, holders: [{ source: "iptables", entry: { ownerId: "r1", binding } }] };
 * // A DNAT rule alone: a listener that WSL relays.
 * assert.deepEqual(routeBinding("privileged", held), ["listeners"]);
 * ```
 */
export function routeBinding(
  mode: AgentMode,
  binding: TrackedBinding,
  registry: SourceRegistry = SOURCES,
  forwarders: ForwarderRegistry = FORWARDERS,
): string[] {
  return routeFor(mode, registry, forwarders)(binding);
}
