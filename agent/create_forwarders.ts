/**
 * The forwarders of a mode, made from the options: the log forwarder in
 * auto mode and dry runs, else the mode's own.
 *
 * @module
 */
import type { Forwarder } from "../forwarding/forwarder.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import { LogForwarder } from "../forwarding/log_forwarder.ts";
import { ListenerForwarder } from "../forwarding/listeners/listener_forwarder.ts";
import { HostSwitchForwarder } from "../forwarding/host_switch/host_switch_forwarder.ts";
import { DnatForwarder } from "../forwarding/dnat/dnat_forwarder.ts";
import { WslProxyForwarder } from "../forwarding/wsl_proxy/wsl_proxy_forwarder.ts";
import { LoopbackRelayForwarder } from "../forwarding/loopback_relay/loopback_relay_forwarder.ts";
import {
  subscribeAddressChanges,
  VtunnelForwarder,
} from "../forwarding/vtunnel/vtunnel_forwarder.ts";
import type { ChangeSubscription } from "../support/netlink_changes.ts";
import { getLogger } from "@logtape/logtape";
import { parseVtunnelTarget } from "../forwarding/vtunnel_target.ts";
import { libcSocketSender } from "../forwarding/vtunnel/socket_sender.ts";
import { sendOverStream } from "../forwarding/vtunnel/send_message.ts";
import { PROCESS_MAPS } from "../support/libc.ts";
import { FD_RESERVE } from "../forwarding/listeners/listener_forwarder.ts";
import { MODE_FORWARDERS } from "../binding/modes.ts";
import type { OpenFilesLimit } from "../support/open_files.ts";
import type { AgentOptions } from "./options.ts";
import { type SourceRegistry, SOURCES } from "../sources/registry.ts";

/** The agent cannot start with these options; the CLI exits 2. */
export class AgentStartError extends Error {
  /** Creates the error; the message is what the user reads. */
  constructor(message: string) {
    super(message);
    this.name = "AgentStartError";
  }
}

/**
 * Creates the forwarders of `options.mode`.
 *
 * @param options The agent's options.
 * @param libcPath libc, for vsock and the vtunnel's socket calls.
 * @param limit The open-files limit: the listeners keep under it.
 * @param registry The sources (the DNAT rules follow its engines).
 * @throws {AgentStartError} When vsock is asked for and there is no libc.
 */
export function createForwarders(
  options: AgentOptions,
  libcPath: string | undefined,
  limit: OpenFilesLimit | undefined,
  registry: SourceRegistry = SOURCES,
): Forwarder[] {
  // No socket: no WSL proxy forwarder (the router skips routes to none).
  const names = MODE_FORWARDERS[options.mode].filter((name) =>
    name !== "wsl-proxy" || options.wslProxySocket !== ""
  );
  if (options.mode === "auto" || options.dryRun) {
    return names.map((name) => new LogForwarder(name));
  }
  return names.map((name): Forwarder => {
    switch (name) {
      case "listeners":
        return new ListenerForwarder(
          limit ? { maxOpen: Math.max(16, limit.soft - FD_RESERVE) } : {},
        );
      case "host-switch":
        return new HostSwitchForwarder({
          baseUrl: options.hostSwitchUrl,
          adminInstall: options.adminInstall,
          tapIp: options.tapInterfaceIp,
          statePath: `${options.stateDir}/host-switch.json`,
          exposeIpv6As: vmListenerIpv4(registry),
        });
      case "dnat":
        return new DnatForwarder({
          engines: new Set(
            registry.filter((source) => source.engine).map((s) => s.name),
          ),
        });
      case "vtunnel": {
        const target = parseVtunnelTarget(options.vtunnelAddr);
        if (target.transport === "vsock" && libcPath === undefined) {
          throw new AgentStartError(
            `Cannot send to ${options.vtunnelAddr}: vsock goes through libc, and ${PROCESS_MAPS} names no single libc mapped into this process`,
          );
        }
        const addressChanges = target.transport === "unix" || !libcPath
          ? undefined
          : followAddresses(libcPath, options.connectInterface);
        return new VtunnelForwarder(target, {
          interfaceName: options.connectInterface,
          ...(libcPath
            ? { send: libcSocketSender(libcPath, sendOverStream) }
            : {}),
          ...(addressChanges ? { addressChanges } : {}),
        });
      }
      case "loopback-relay":
        return new LoopbackRelayForwarder({
          tapIp: options.tapInterfaceIp,
          settleMs: options.listenerSettleMs,
        });
      case "wsl-proxy":
        return new WslProxyForwarder(options.wslProxySocket);
      case "log":
        return new LogForwarder(name);
    }
  });
}

/**
 * The kernel's address changes for the vtunnel forwarder's connectAddrs,
 * or undefined (with a warning) when the kernel refuses: the forwarder then
 * reads the interface for every message.
 */
function followAddresses(
  libcPath: string,
  interfaceName: string,
): ChangeSubscription | undefined {
  try {
    return subscribeAddressChanges(libcPath);
  } catch (error) {
    getLogger(["guest-agent", "forwarder", "vtunnel"]).warn(
      "vtunnel: cannot follow {name}'s address changes ({error}); reading its addresses for every message",
      { name: interfaceName, error: (error as Error).message },
    );
    return undefined;
  }
}

/**
 * For host-switch: a binding held only by sources that read the VM's own
 * sockets, on [::1] or [::], is reached over IPv4 at the tap address (the
 * loopback relay, or a dual-stack socket), so it is exposed as 127.0.0.1 or
 * 0.0.0.0. An engine's IPv6 binding is not: its IPv4 twin is exposed.
 */
function vmListenerIpv4(
  registry: SourceRegistry,
): (binding: TrackedBinding) => string | undefined {
  const vmSocketSources = new Set(
    registry.filter((source) => source.seesAgentListeners).map((s) => s.name),
  );
  return (binding) => {
    if (!binding.holders.every((h) => vmSocketSources.has(h.source))) {
      return undefined;
    }
    return binding.binding.hostIp === "::1"
      ? "127.0.0.1"
      : binding.binding.hostIp === "::"
      ? "0.0.0.0"
      : undefined;
  };
}
