/**
 * Port bindings: the value every part of the agent agrees on.
 *
 * @module
 */
import { isPort, normaliseHostIp } from "./ip.ts";

/**
 * Transport protocol of a published port.
 *
 * @example Usage
 * ```ts
 * import type { Protocol } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const protocol: Protocol = "udp";
 * assert.equal(protocol, "udp");
 * ```
 */
export type Protocol = "tcp" | "udp";

/** The protocols a binding may have. */
export const PROTOCOLS: readonly Protocol[] = ["tcp", "udp"];

/**
 * A port published on the VM: what has to be reachable from the host.
 * `hostIp` is normalised (see {@linkcode normaliseHostIp}).
 *
 * @example Usage
 * ```ts
 * import { type Binding, makeBinding } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const binding: Binding = makeBinding("tcp", "", 8080);
 * assert.deepEqual(binding, { protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 });
 * ```
 */
export interface Binding {
  /** Transport protocol. */
  readonly protocol: Protocol;
  /** Normalised host address: "0.0.0.0", "::", "127.0.0.1", "::1" or a specific address. */
  readonly hostIp: string;
  /** Host port, 1 to 65535. */
  readonly hostPort: number;
}

/**
 * What a source reports about one binding: the binding plus what forwarders
 * and people need to know about its owner.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, type PortEntry } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const entry: PortEntry = {
 *   ownerId: "3f2a…",
 *   binding: makeBinding("tcp", "127.0.0.1", 8080),
 *   containerPort: 80,
 *   name: "web",
 * };
 * assert.equal(entry.binding.hostPort, 8080);
 * ```
 */
export interface PortEntry {
  /** The binding this entry publishes. */
  readonly binding: Binding;
  /** Id of the owner inside its source: container id, service uid, rule key. */
  readonly ownerId: string;
  /** Port inside the container or service, when known. */
  readonly containerPort?: number;
  /** Addresses of the container on its networks, when known. */
  readonly containerIps?: readonly string[];
  /** Name for logs and status: container name, namespace/service. */
  readonly name?: string;
  /** Namespace of the owner (containerd or Kubernetes), when it has one. */
  readonly namespace?: string;
}

/**
 * Builds a binding, checking and normalising every field.
 *
 * @param protocol "tcp" or "udp" (any case).
 * @param hostIp Host address; "" means "0.0.0.0".
 * @param hostPort Port number 1 to 65535.
 * @returns The binding.
 * @throws {TypeError} When the protocol or address is not valid.
 * @throws {RangeError} When the port is out of range.
 *
 * @example Usage
 * ```ts
 * import { makeBinding } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * // Docker's empty HostIp means every IPv4 address.
 * assert.equal(makeBinding("tcp", "", 80).hostIp, "0.0.0.0");
 * assert.throws(() => makeBinding("tcp", "0.0.0.0", 0), RangeError);
 * ```
 */
export function makeBinding(
  protocol: string,
  hostIp: string,
  hostPort: number,
): Binding {
  const lower = protocol.toLowerCase();
  if (lower !== "tcp" && lower !== "udp") {
    throw new TypeError(
      `Cannot use protocol ${
        JSON.stringify(protocol.slice(0, 32))
      }: accepted values are tcp and udp`,
    );
  }
  if (!isPort(hostPort)) {
    throw new RangeError(
      `Cannot use host port ${
        String(hostPort).slice(0, 32)
      }: accepted values are integers from 1 to 65535`,
    );
  }
  return { protocol: lower, hostIp: normaliseHostIp(hostIp), hostPort };
}

/**
 * The key of a binding, unique per (protocol, host address, host port):
 * `tcp/0.0.0.0:8080`, `udp/[::]:53`.
 *
 * @param binding A binding with a normalised host address.
 * @returns Its key.
 *
 * @example Usage
 * ```ts
 * import { bindingKey, makeBinding } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.equal(bindingKey(makeBinding("udp", "::", 53)), "udp/[::]:53");
 * ```
 */
export function bindingKey(binding: Binding): string {
  const host = binding.hostIp.includes(":")
    ? `[${binding.hostIp}]`
    : binding.hostIp;
  return `${binding.protocol}/${host}:${binding.hostPort}`;
}
