/**
 * The listener forwarder's descriptor: listeners in the VM that WSL relays
 * to the host. In listeners mode every binding with a port to serve (not
 * the VM's own sockets, which serve themselves); in the other modes a DNAT
 * rule's port that no engine serves (CNI portmap, kube-proxy): an engine,
 * or its proxy, serves its own, and a listener would race it for the port.
 *
 * @module
 */
import type { ForwarderDescriptor } from "../descriptor.ts";
import { FD_RESERVE, ListenerForwarder } from "./listener_forwarder.ts";

/** Listeners that WSL relays (listeners mode; DNAT-only ports elsewhere). */
export const listenerForwarder: ForwarderDescriptor<Record<never, never>> = {
  name: "listeners",
  options: [],
  defaults: {},
  modes: ["privileged", "host-switch", "listeners"],
  takes: (mode, { observations }) =>
    mode === "listeners"
      ? [...observations].some((seen) => seen !== "vm-sockets")
      : observations.has("dnat-rules") && !observations.has("engine-ports"),
  create: ({ limit }) =>
    new ListenerForwarder(
      limit ? { maxOpen: Math.max(16, limit.soft - FD_RESERVE) } : {},
    ),
};
