/**
 * The loopback relay's descriptor: in host-switch mode, a VM listener on
 * loopback or the IPv6 wildcard (which host-switch cannot reach at the tap
 * address) gets a relay there, unless an engine serves the port (a relay
 * would race it).
 *
 * @module
 */
import type { ForwarderDescriptor } from "../descriptor.ts";
import {
  LoopbackRelayForwarder,
  RELAYED_HOST_IPS,
} from "./loopback_relay_forwarder.ts";

/** Relays the tap address into loopback listeners (host-switch mode). */
export const loopbackRelayForwarder: ForwarderDescriptor<Record<never, never>> =
  {
    name: "loopback-relay",
    options: [],
    defaults: {},
    modes: ["host-switch"],
    takes: (_mode, { binding, observations }) =>
      observations.has("vm-sockets") && !observations.has("engine-ports") &&
      RELAYED_HOST_IPS.includes(binding.hostIp),
    create: ({ settings }) =>
      new LoopbackRelayForwarder({
        tapIp: settings.tapIp,
        settleMs: settings.settleMs,
      }),
  };
