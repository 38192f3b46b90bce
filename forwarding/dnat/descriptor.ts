/**
 * The DNAT forwarder's descriptor: in host-switch mode, an engine's
 * 127.0.0.1 binding gets a DNAT rule, which the host-switch cannot reach
 * otherwise.
 *
 * @module
 */
import type { ForwarderDescriptor } from "../descriptor.ts";
import { DnatForwarder } from "./dnat_forwarder.ts";

/** DNAT rules for an engine's loopback bindings (host-switch mode). */
export const dnatForwarder: ForwarderDescriptor<Record<never, never>> = {
  name: "dnat",
  options: [],
  defaults: {},
  modes: ["host-switch"],
  takes: (_mode, { binding, observations }) =>
    observations.has("engine-ports") && binding.hostIp === "127.0.0.1",
  create: ({ engines }) => new DnatForwarder({ engines: new Set(engines) }),
};
