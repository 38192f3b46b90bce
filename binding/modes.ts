/**
 * The names every layer shares: forwarding modes and forwarders, and which
 * forwarders each mode creates.
 *
 * @module
 */

/** How the agent forwards, decided from the flags (see README, "Modes"). */
export type AgentMode =
  /** No mode flag: run the sources that can work here, log the table. */
  | "auto"
  /** -privilegedService: PortMapping JSON to the privileged service. */
  | "privileged"
  /** -docker or -containerd without the privileged service: host-switch API. */
  | "host-switch"
  /** Neither: listeners that make WSL relay the ports. */
  | "listeners";

/** The forwarders a mode can use. */
export type ForwarderName =
  | "log"
  | "vtunnel"
  | "host-switch"
  | "wsl-proxy"
  | "loopback-relay"
  | "listeners"
  | "dnat";

/** The forwarders each mode uses, in the order they are created. */
export const MODE_FORWARDERS: Readonly<
  Record<AgentMode, readonly ForwarderName[]>
> = {
  auto: ["log"],
  privileged: ["vtunnel", "listeners"],
  "host-switch": [
    "host-switch",
    "wsl-proxy",
    "loopback-relay",
    "dnat",
    "listeners",
  ],
  listeners: ["listeners"],
};

/**
 * The host addresses of a VM listener that host-switch cannot reach at the
 * tap address by itself (loopback, and [::] when v6-only): in host-switch
 * mode such a listener also gets the loopback relay.
 */
export const RELAYED_HOST_IPS: readonly string[] = ["127.0.0.1", "::1", "::"];
