/**
 * The privileged service's PortMapping message (docs/protocols.md, "Privileged service PortMapping"), built
 * byte-for-byte as the Go agent's encoding/json writes it.
 *
 * @module
 */
import type { TrackedBinding } from "../../tracker/port_tracker.ts";

/** One address of the VM's interface, as Go's net.IPNet marshals it. */
export interface ConnectAddr {
  /** Always "ip+net" (Go's IPNet.Network()). */
  readonly network: "ip+net";
  /** Address in CIDR form, e.g. "172.26.1.2/20". */
  readonly addr: string;
}

/**
 * The JSON line for one binding: `{"remove":…,"ports":{"<container
 * port>/<proto>":[{"HostIp":…,"HostPort":"…"}]},"connectAddrs":…}` and "\n".
 * The container port is the first holder's, or the host port when no holder
 * knows one (listening sockets, iptables rules without a target port).
 *
 * @param tracked The binding to add or remove, as the tracker holds it.
 * @param remove True for a removal.
 * @param connectAddrs The VM's addresses, or null (the wsl-proxy socket takes null).
 * @returns The message, newline-terminated.
 */
export function portMappingLine(
  tracked: TrackedBinding,
  remove: boolean,
  connectAddrs: readonly ConnectAddr[] | null,
): string {
  const containerPort =
    tracked.holders.find((h) => h.entry.containerPort)?.entry
      .containerPort ?? tracked.binding.hostPort;
  const message = {
    remove,
    ports: {
      [`${containerPort}/${tracked.binding.protocol}`]: [{
        HostIp: tracked.binding.hostIp,
        HostPort: String(tracked.binding.hostPort),
      }],
    },
    connectAddrs: connectAddrs === null
      ? null
      : connectAddrs.map(({ network, addr }) => ({ network, addr })),
  };
  return `${JSON.stringify(message)}\n`;
}

/**
 * The addresses of one interface in CIDR form, in the order the kernel
 * lists them (what Go's net.Interface.Addrs() returns), IPv6 link-local
 * addresses included as Go does.
 *
 * @param interfaces From `Deno.networkInterfaces()`.
 * @param name The interface, e.g. "eth0".
 * @returns Its addresses; empty when it has none (yet).
 */
export function interfaceConnectAddrs(
  interfaces: readonly Deno.NetworkInterfaceInfo[],
  name: string,
): ConnectAddr[] {
  return interfaces
    .filter((info) => info.name === name)
    .map((info) => ({ network: "ip+net" as const, addr: info.cidr }));
}
