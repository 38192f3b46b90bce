/**
 * Published ports of Kubernetes services (docs/protocols.md, "Kubernetes"): NodePort
 * services publish `spec.ports[].nodePort`, LoadBalancer services
 * `spec.ports[].port`; TCP and UDP on one port are two bindings. Pure;
 * a malformed service throws a TypeError naming it, a bad port is skipped.
 *
 * @module
 */
import type { ServiceListenAddress } from "./config.ts";
import {
  bindingKey,
  makeBinding,
  type PortEntry,
} from "../../binding/binding.ts";
import { jsonRecord } from "./main_thread/json_record.ts";

/** What one service publishes. */
export interface ServicePorts {
  /** The service's UID: the owner of its entries. */
  readonly uid: string;
  /** `namespace/name`, for logs. */
  readonly name: string;
  /** One entry per published binding. */
  readonly entries: PortEntry[];
  /** Ports skipped, each with the reason. */
  readonly skipped: string[];
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" && value.length <= 253
    ? value
    : undefined;
}

/** `namespace/name` of a service object, as far as it can be read. */
export function serviceName(service: unknown): string {
  const metadata = jsonRecord(jsonRecord(service)?.metadata);
  return `${text(metadata?.namespace) ?? "?"}/${text(metadata?.name) ?? "?"}`;
}

/**
 * The ports a service publishes.
 *
 * @param service A v1 Service object as the API server sends it.
 * @param listenAddress The host address of every binding.
 * @throws {TypeError} When the object has no usable metadata.uid or spec.
 */
export function serviceEntries(
  service: unknown,
  listenAddress: ServiceListenAddress,
): ServicePorts {
  const name = serviceName(service);
  const object = jsonRecord(service);
  const metadata = jsonRecord(object?.metadata);
  const uid = text(metadata?.uid);
  if (uid === undefined) {
    throw new TypeError(`Cannot use service ${name}: no metadata.uid`);
  }
  const spec = jsonRecord(object?.spec);
  if (spec === undefined) {
    throw new TypeError(`Cannot use service ${name}: no spec`);
  }
  const namespace = text(metadata?.namespace);
  const base = { uid, name, entries: [], skipped: [] };
  const field = spec.type === "NodePort"
    ? "nodePort"
    : spec.type === "LoadBalancer"
    ? "port"
    : undefined;
  if (field === undefined) return base; // ClusterIP, ExternalName: nothing
  if (spec.ports !== undefined && !Array.isArray(spec.ports)) {
    throw new TypeError(`Cannot use service ${name}: spec.ports is not a list`);
  }
  const entries = new Map<string, PortEntry>();
  const skipped: string[] = [];
  for (const [index, raw] of ((spec.ports ?? []) as unknown[]).entries()) {
    try {
      const port = jsonRecord(raw);
      if (port === undefined) {
        throw new TypeError("Cannot read a port: not an object");
      }
      const protocol = port.protocol ?? "TCP";
      if (typeof protocol !== "string") {
        throw new TypeError(
          `Cannot read protocol ${JSON.stringify(protocol)}: not a string`,
        );
      }
      const hostPort = port[field];
      if (typeof hostPort !== "number") {
        throw new TypeError(
          `Cannot read ${field} ${JSON.stringify(hostPort)}: not a number`,
        );
      }
      const entry: PortEntry = {
        ownerId: uid,
        binding: makeBinding(protocol, listenAddress, hostPort),
        name,
        ...(namespace === undefined ? {} : { namespace }),
        ...(typeof port.targetPort === "number" &&
            Number.isInteger(port.targetPort) && port.targetPort >= 1 &&
            port.targetPort <= 65535
          ? { containerPort: port.targetPort }
          : {}),
      };
      const key = bindingKey(entry.binding);
      if (!entries.has(key)) entries.set(key, entry);
    } catch (error) {
      skipped.push(`ports[${index}]: ${(error as Error).message}`);
    }
  }
  return { ...base, entries: [...entries.values()], skipped };
}
