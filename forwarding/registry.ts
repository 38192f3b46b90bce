/**
 * The registry: every forwarder this build has, in the order they are made
 * and listed. Adding a forwarder is its descriptor (forwarding/descriptor.ts:
 * name, options, modes, which bindings it takes, how it is made) and one
 * line here; the CLI, the route and the agent's wiring read this list.
 *
 * @module
 */
import type { ForwarderDescriptor } from "./descriptor.ts";
import type { Intersection, OptionsOf } from "../support/option_table.ts";
import { logForwarder } from "./log_descriptor.ts";
import { vtunnelForwarder } from "./vtunnel/descriptor.ts";
import { hostSwitchForwarder } from "./host_switch/descriptor.ts";
import { wslProxyForwarder } from "./wsl_proxy/descriptor.ts";
import { loopbackRelayForwarder } from "./loopback_relay/descriptor.ts";
import { dnatForwarder } from "./dnat/descriptor.ts";
import { listenerForwarder } from "./listeners/descriptor.ts";

/** The forwarders of this build, in the order they are made. */
export const FORWARDERS = [
  logForwarder,
  vtunnelForwarder,
  hostSwitchForwarder,
  wslProxyForwarder,
  loopbackRelayForwarder,
  dnatForwarder,
  listenerForwarder,
] as const;

/** A descriptor of any forwarder, its option type forgotten. */
// deno-lint-ignore no-explicit-any -- the registry holds descriptors of different option types
export type AnyForwarderDescriptor = ForwarderDescriptor<any>;

/** A list of forwarders: {@linkcode FORWARDERS}, or a test's own list. */
export type ForwarderRegistry = readonly AnyForwarderDescriptor[];

/** The options of every registered forwarder, in one object. */
export type ForwarderOptions = Intersection<
  OptionsOf<typeof FORWARDERS[number]>
>;

/** Each forwarder's defaults, in one object. */
export function forwarderDefaults(
  registry: ForwarderRegistry,
): ForwarderOptions {
  return Object.assign({}, ...registry.map((forwarder) => forwarder.defaults));
}
