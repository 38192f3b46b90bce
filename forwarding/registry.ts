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
import { privilegedServiceForwarder } from "./privileged_service/descriptor.ts";
import { hostSwitchForwarder } from "./host_switch/descriptor.ts";
import { wslProxyForwarder } from "./wsl_proxy/descriptor.ts";
import { loopbackRelayForwarder } from "./loopback_relay/descriptor.ts";
import { dnatForwarder } from "./dnat/descriptor.ts";
import { listenerForwarder } from "./listeners/descriptor.ts";

/**
 * The forwarders of this build, in the order they are made.
 *
 * @example Usage
 * ```ts
 * import { FORWARDERS } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   FORWARDERS.filter((f) => f.modes.includes("host-switch")).map((f) => f.name),
 *   ["host-switch", "wsl-proxy", "loopback-relay", "dnat", "listeners"],
 * );
 * ```
 */
export const FORWARDERS = [
  logForwarder,
  privilegedServiceForwarder,
  hostSwitchForwarder,
  wslProxyForwarder,
  loopbackRelayForwarder,
  dnatForwarder,
  listenerForwarder,
] as const;

/**
 * A descriptor of any forwarder, its option type forgotten.
 *
 * @example Usage
 * ```ts
 * import { type AnyForwarderDescriptor, FORWARDERS } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const hostSwitch: AnyForwarderDescriptor = FORWARDERS.find((f) => f.name === "host-switch")!;
 * assert.deepEqual(hostSwitch.modes, ["host-switch"]);
 * ```
 */
// deno-lint-ignore no-explicit-any -- the registry holds descriptors of different option types
export type AnyForwarderDescriptor = ForwarderDescriptor<any>;

/**
 * A list of forwarders: {@linkcode FORWARDERS}, or a test's own list.
 *
 * @example Usage
 * ```ts
 * import { type ForwarderRegistry, FORWARDERS } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const onlyPrivileged: ForwarderRegistry = FORWARDERS.filter((f) => f.modes.includes("privileged"));
 * assert.deepEqual(onlyPrivileged.map((f) => f.name), ["privileged-service", "listeners"]);
 * ```
 */
export type ForwarderRegistry = readonly AnyForwarderDescriptor[];

/**
 * The options of every registered forwarder, in one object.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_OPTIONS, type ForwarderOptions } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const forwarding: ForwarderOptions = DEFAULT_OPTIONS;
 * assert.equal(forwarding.vtunnelAddr, "127.0.0.1:3040");
 * ```
 */
export type ForwarderOptions = Intersection<
  OptionsOf<typeof FORWARDERS[number]>
>;

/** Each forwarder's defaults, in one object. */
export function forwarderDefaults(
  registry: ForwarderRegistry,
): ForwarderOptions {
  return Object.assign({}, ...registry.map((forwarder) => forwarder.defaults));
}
