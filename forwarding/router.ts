/**
 * The mode table: which forwarders get which bindings.
 *
 * @module
 */
import type { AgentMode } from "../agent/options.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** The forwarders a mode can use. */
export type ForwarderName =
  | "log"
  | "vtunnel"
  | "host-switch"
  | "listeners"
  | "dnat";

/** The forwarders each mode uses, in the order they are created. */
export const MODE_FORWARDERS: Readonly<
  Record<AgentMode, readonly ForwarderName[]>
> = {
  auto: ["log"],
  privileged: ["vtunnel", "listeners"],
  "host-switch": ["host-switch", "dnat", "listeners"],
  listeners: ["listeners"],
};

function routeOneSource(
  mode: AgentMode,
  source: string,
  hostIp: string,
): ForwarderName[] {
  switch (mode) {
    case "auto":
      return ["log"];
    case "listeners":
      // WSL relays real listening sockets by itself: nothing to add.
      return source === "procnet" ? [] : ["listeners"];
    case "privileged":
      // The Go agent also opened listeners for containerd ports; we do not
      // give an engine's port to the listeners as well (see routeBinding).
      return source === "iptables" ? ["listeners"] : ["vtunnel"];
    case "host-switch":
      if (source === "iptables") return ["listeners"];
      if (
        (source === "docker" || source === "containerd") &&
        hostIp === "127.0.0.1"
      ) {
        return ["host-switch", "dnat"];
      }
      return ["host-switch"];
  }
}

/** Sources that are container engines: their ports have their own way to the host. */
const ENGINE_SOURCES: ReadonlySet<string> = new Set(["docker", "containerd"]);

/**
 * The forwarders that should have `binding` in `mode`: the union over its
 * holders' sources, so a binding seen by two sources is routed once per
 * forwarder. A binding an engine source holds is never also given to the
 * listeners when the mode forwards it another way (the engine, or its
 * proxy, serves the port; a listener would race it for the port).
 *
 * @param mode The agent's mode.
 * @param binding A tracked binding.
 * @returns Forwarder names, without duplicates, in {@linkcode MODE_FORWARDERS} order.
 */
export function routeBinding(
  mode: AgentMode,
  binding: TrackedBinding,
): ForwarderName[] {
  const wanted = new Set<ForwarderName>();
  let engine = false;
  for (const holder of binding.holders) {
    engine ||= ENGINE_SOURCES.has(holder.source);
    for (
      const name of routeOneSource(mode, holder.source, binding.binding.hostIp)
    ) {
      wanted.add(name);
    }
  }
  if (engine && wanted.size > 1) wanted.delete("listeners");
  return MODE_FORWARDERS[mode].filter((name) => wanted.has(name));
}
