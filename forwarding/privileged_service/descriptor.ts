/**
 * The privileged-service forwarder's descriptor: PortMapping JSON to Rancher Desktop's
 * privileged service, in privileged mode, for every binding with a way to
 * the host of its own (not a DNAT rule alone: that is the listeners').
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type OptionSpec, UsageError } from "../../support/option_table.ts";
import { PROCESS_MAPS } from "../../support/libc.ts";
import type { ChangeSubscription } from "../../support/netlink_changes.ts";
import {
  type ForwarderDescriptor,
  ForwarderSetupError,
  observedAny,
} from "../descriptor.ts";
import { parseVtunnelTarget } from "../vtunnel_target.ts";
import { sendOverStream } from "./send_message.ts";
import { libcSocketSender } from "./socket_sender.ts";
import {
  PrivilegedServiceForwarder,
  subscribeAddressChanges,
} from "./privileged_service_forwarder.ts";

/** The privileged-service forwarder's options. */
export interface PrivilegedServiceOptions {
  /** The privileged service's address: tcp://host:port, unix:///path or vsock://cid:port. */
  readonly vtunnelAddr: string;
  /** The interface whose addresses are the PortMapping's connectAddrs. */
  readonly connectInterface: string;
}

const OPTIONS: readonly OptionSpec<PrivilegedServiceOptions>[] = [
  {
    key: "vtunnelAddr",
    name: "vtunnel-addr",
    goName: "vtunnelAddr",
    kind: "value",
    valueName: "<address>",
    help:
      "privileged service address: host:port, tcp://, unix:// or vsock:// (Go: -vtunnelAddr)",
    parse: (value) => {
      try {
        parseVtunnelTarget(value);
      } catch (error) {
        throw new UsageError(
          `Cannot use that -vtunnelAddr: ${(error as Error).message}`,
        );
      }
      return value;
    },
  },
  {
    key: "connectInterface",
    name: "connect-interface",
    kind: "value",
    valueName: "<name>",
    help: "interface whose addresses the privileged service connects to",
    parse: (value) => {
      if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(value)) {
        throw new UsageError(
          `Cannot use ${
            JSON.stringify(value)
          } for --connect-interface: accepted values are interface names of 1 to 15 characters`,
        );
      }
      return value;
    },
  },
];

/** PortMapping JSON to the privileged service (privileged mode). */
export const privilegedServiceForwarder: ForwarderDescriptor<
  PrivilegedServiceOptions
> = {
  name: "privileged-service",
  options: OPTIONS,
  defaults: { vtunnelAddr: "127.0.0.1:3040", connectInterface: "eth0" },
  modes: ["privileged"],
  takes: (_mode, sighting) =>
    observedAny(
      sighting,
      "engine-ports",
      "api-services",
      "vm-sockets",
      "agent-own",
    ),
  create({ options, libcPath }) {
    const target = parseVtunnelTarget(options.vtunnelAddr);
    if (target.transport === "vsock" && libcPath === undefined) {
      throw new ForwarderSetupError(
        `Cannot send to ${options.vtunnelAddr}: vsock goes through libc, and ${PROCESS_MAPS} names no single libc mapped into this process`,
      );
    }
    const addressChanges = target.transport === "unix" || !libcPath
      ? undefined
      : followAddresses(libcPath, options.connectInterface);
    return new PrivilegedServiceForwarder(target, {
      interfaceName: options.connectInterface,
      ...(libcPath ? { send: libcSocketSender(libcPath, sendOverStream) } : {}),
      ...(addressChanges ? { addressChanges } : {}),
    });
  },
};

/**
 * The kernel's address changes for the connectAddrs, or undefined (with a
 * warning) when the kernel refuses: the forwarder then reads the interface
 * for every message.
 */
function followAddresses(
  libcPath: string,
  interfaceName: string,
): ChangeSubscription | undefined {
  try {
    return subscribeAddressChanges(libcPath);
  } catch (error) {
    getLogger(["guest-agent", "forwarder", "privileged-service"]).warn(
      "privileged-service: cannot follow {name}'s address changes ({error}); reading its addresses for every message",
      { name: interfaceName, error: (error as Error).message },
    );
    return undefined;
  }
}
