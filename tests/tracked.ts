/**
 * One tracked binding for forwarder tests: a binding as the tracker hands it
 * to a forwarder, with one holder.
 *
 * @module
 */
import { bindingKey, makeBinding, type Protocol } from "../binding/binding.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** Who holds the binding, and what its entry says beyond the binding. */
export interface TrackedHolder {
  /** @default "docker" */
  readonly source?: string;
  /** @default "c1" */
  readonly ownerId?: string;
  /** The container port, where the holder has one. */
  readonly containerPort?: number;
  /** The container's addresses, where the holder knows them. */
  readonly containerIps?: readonly string[];
  /** The holder's name for the port. */
  readonly name?: string;
}

/**
 * `protocol hostIp:hostPort` as the tracker has it: its key, the
 * normalised binding, one holder.
 */
export function tracked(
  protocol: Protocol,
  hostIp: string,
  hostPort: number,
  holder: TrackedHolder = {},
): TrackedBinding {
  const binding = makeBinding(protocol, hostIp, hostPort);
  const {
    source = "docker",
    ownerId = "c1",
    containerPort,
    containerIps,
    name,
  } = holder;
  return {
    key: bindingKey(binding),
    binding,
    holders: [{
      source,
      entry: {
        ownerId,
        binding,
        ...containerPort === undefined ? {} : { containerPort },
        ...containerIps === undefined
          ? {}
          : { containerIps: [...containerIps] },
        ...name === undefined ? {} : { name },
      },
    }],
  };
}
