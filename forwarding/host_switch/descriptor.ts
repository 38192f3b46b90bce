/**
 * The host-switch forwarder's descriptor: the host-switch API (gvproxy's
 * forwarder API, Rancher Desktop's host-switch) in host-switch mode, for
 * every binding with a way to the host of its own.
 *
 * @module
 */
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { type OptionSpec, UsageError } from "../../support/option_table.ts";
import { type ForwarderDescriptor, observedAny } from "../descriptor.ts";
import { HostSwitchForwarder } from "./host_switch_forwarder.ts";

/** The host-switch forwarder's options. */
export interface HostSwitchOptions {
  /** The host-switch API's base URL. */
  readonly hostSwitchUrl: string;
  /** Admin install: expose on the binding's host IP rather than 127.0.0.1. */
  readonly adminInstall: boolean;
}

const OPTIONS: readonly OptionSpec<HostSwitchOptions>[] = [
  {
    key: "adminInstall",
    name: "admin-install",
    goName: "adminInstall",
    kind: "boolean",
    help:
      "admin install: expose on the binding's own address (Go: -adminInstall)",
    negation: "expose on 127.0.0.1",
  },
  {
    key: "hostSwitchUrl",
    name: "host-switch-url",
    kind: "value",
    valueName: "<url>",
    help: "the host-switch API (namespaced network)",
    parse: (value) => {
      const url = URL.parse(value);
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
        throw new UsageError(
          `Cannot use ${
            JSON.stringify(value)
          } for --host-switch-url: accepted values are http:// or https:// URLs`,
        );
      }
      return value;
    },
  },
];

/** The host-switch API (host-switch mode). */
export const hostSwitchForwarder: ForwarderDescriptor<HostSwitchOptions> = {
  name: "host-switch",
  options: OPTIONS,
  defaults: { hostSwitchUrl: "http://192.168.127.1:80", adminInstall: false },
  modes: ["host-switch"],
  // The agent's own Kubernetes API port: Rancher Desktop's host side
  // forwards it itself, and its agent does not expose it.
  takes: (_mode, sighting) =>
    observedAny(sighting, "engine-ports", "api-services", "vm-sockets"),
  create: ({ options, settings, vmSocketSources }) =>
    new HostSwitchForwarder({
      baseUrl: options.hostSwitchUrl,
      adminInstall: options.adminInstall,
      tapIp: settings.tapIp,
      statePath: `${settings.stateDir}/host-switch.json`,
      exposeIpv6As: vmListenerIpv4(vmSocketSources),
    }),
};

/**
 * A binding held only by sources that read the VM's own sockets, on [::1]
 * or [::], is reached over IPv4 at the tap address (the loopback relay, or
 * a dual-stack socket), so it is exposed as 127.0.0.1 or 0.0.0.0. An
 * engine's IPv6 binding is not: its IPv4 twin is exposed.
 */
function vmListenerIpv4(
  vmSocketSources: ReadonlySet<string>,
): (tracked: TrackedBinding) => string | undefined {
  return (tracked) => {
    if (!tracked.holders.every((h) => vmSocketSources.has(h.source))) {
      return undefined;
    }
    return tracked.binding.hostIp === "::1"
      ? "127.0.0.1"
      : tracked.binding.hostIp === "::"
      ? "0.0.0.0"
      : undefined;
  };
}
