/**
 * The mode table: which forwarders get which bindings, from each source's
 * route in the registry.
 *
 * @module
 */
import { defaultRoute } from "../sources/descriptor.ts";
import { type SourceRegistry, SOURCES } from "../sources/registry.ts";
import {
  type AgentMode,
  type ForwarderName,
  MODE_FORWARDERS,
} from "../binding/modes.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** The forwarders (by name) that should have a binding. */
export type Route = (binding: TrackedBinding) => readonly string[];

/**
 * The route of `mode`: for each binding, the union over its holders'
 * sources, so a binding seen by two sources is routed once per forwarder.
 * A binding an engine source holds is never also given to the listeners
 * when the mode forwards it another way (the engine, or its proxy, serves
 * the port; a listener would race it for the port), nor a loopback relay.
 * A holder whose source is not in the registry (the agent's own "static"
 * bindings: the Kubernetes API port) takes {@linkcode staticRoute}.
 *
 * @param mode The agent's mode.
 * @param registry The sources. @default SOURCES
 * @returns Forwarder names, without duplicates, in MODE_FORWARDERS order.
 */
export function routeFor(
  mode: AgentMode,
  registry: SourceRegistry = SOURCES,
): (binding: TrackedBinding) => ForwarderName[] {
  const byName = new Map(registry.map((source) => [source.name, source]));
  return (binding) => {
    const wanted = new Set<ForwarderName>();
    let engine = false;
    for (const holder of binding.holders) {
      const source = byName.get(holder.source);
      engine ||= source?.engine === true;
      const names = source
        ? source.route(mode, binding.binding)
        : staticRoute(mode);
      for (const name of names) wanted.add(name);
    }
    if (engine && wanted.size > 1) wanted.delete("listeners");
    // An engine (or its proxy) serves its ports: a relay would race it.
    if (engine) wanted.delete("loopback-relay");
    return MODE_FORWARDERS[mode].filter((name) => wanted.has(name));
  };
}

/**
 * The forwarders that should have `binding` in `mode` (see
 * {@linkcode routeFor}).
 */
export function routeBinding(
  mode: AgentMode,
  binding: TrackedBinding,
  registry: SourceRegistry = SOURCES,
): ForwarderName[] {
  return routeFor(mode, registry)(binding);
}

/**
 * The route of the agent's own bindings (the Kubernetes API port with
 * -kubernetes): in host-switch mode the WSL proxy only, as Rancher Desktop's
 * agent sends it (its host side serves the API port itself); else
 * {@linkcode defaultRoute}.
 */
export function staticRoute(mode: AgentMode): readonly ForwarderName[] {
  return mode === "host-switch" ? ["wsl-proxy"] : defaultRoute(mode);
}
