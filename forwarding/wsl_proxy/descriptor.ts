/**
 * The WSL proxy forwarder's descriptor: in host-switch mode, every binding
 * host-switch gets, and the agent's own Kubernetes API port, as Rancher
 * Desktop's agent sends them, so other WSL distributions reach them.
 *
 * @module
 */
import { type OptionSpec, UsageError } from "../../support/option_table.ts";
import { type ForwarderDescriptor, observedAny } from "../descriptor.ts";
import { WslProxyForwarder } from "./wsl_proxy_forwarder.ts";

/** The WSL proxy forwarder's options. */
export interface WslProxyOptions {
  /** The WSL proxy's unix socket; "" for none. */
  readonly wslProxySocket: string;
}

const OPTIONS: readonly OptionSpec<WslProxyOptions>[] = [
  {
    key: "wslProxySocket",
    name: "wsl-proxy-socket",
    kind: "value",
    valueName: "<path>",
    help:
      'the WSL proxy\'s unix socket, sent each binding beside host-switch ("" for none)',
    parse: (value) => {
      if (value !== "" && !value.startsWith("/")) {
        throw new UsageError(
          `Cannot use ${
            JSON.stringify(value)
          } for --wsl-proxy-socket: accepted values are absolute paths and ""`,
        );
      }
      return value;
    },
  },
];

/** Rancher Desktop's WSL proxy (host-switch mode), unless its socket is "". */
export const wslProxyForwarder: ForwarderDescriptor<WslProxyOptions> = {
  name: "wsl-proxy",
  options: OPTIONS,
  defaults: { wslProxySocket: "/run/wsl-proxy.sock" },
  modes: ["host-switch"],
  takes: (_mode, sighting) =>
    observedAny(
      sighting,
      "engine-ports",
      "api-services",
      "vm-sockets",
      "agent-own",
    ),
  off: (options) => options.wslProxySocket === "",
  create: ({ options }) => new WslProxyForwarder(options.wslProxySocket),
};
