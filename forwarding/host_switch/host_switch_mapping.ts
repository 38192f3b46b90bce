/**
 * Which host-switch mapping a binding needs (docs/protocols.md, "host-switch API").
 *
 * @module
 */
import type { Binding } from "../../binding/binding.ts";
import type { HostSwitchMapping } from "./host_switch_api.ts";

/** Options of {@linkcode hostSwitchMapping}. */
export interface HostSwitchMappingOptions {
  /** Admin install: expose on the binding's own address; else on 127.0.0.1. */
  readonly adminInstall: boolean;
  /** The VM's tap IP, the remote side. */
  readonly tapIp: string;
}

/**
 * The mapping for a binding: local = (adminInstall ? hostIp : 127.0.0.1):port,
 * remote = tapIp:port, protocol always set. The API is IPv4 only, so an IPv6
 * binding has none (its IPv4 twin, which engines publish too, carries it).
 *
 * @returns The mapping, or undefined for an IPv6 binding.
 */
export function hostSwitchMapping(
  binding: Binding,
  options: HostSwitchMappingOptions,
): HostSwitchMapping | undefined {
  if (binding.hostIp.includes(":")) return undefined;
  const localIp = options.adminInstall ? binding.hostIp : "127.0.0.1";
  return {
    local: `${localIp}:${binding.hostPort}`,
    remote: `${options.tapIp}:${binding.hostPort}`,
    protocol: binding.protocol,
  };
}
