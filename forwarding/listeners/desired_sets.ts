/**
 * What "a forwarder should have this binding" means per forwarder: the
 * delivery queue's desired set, except for the listeners, where the unserved
 * gate first waits until nothing in the VM serves the port.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { DeliveryQueue, DeliveryStatus } from "../delivery_queue.ts";
import type { Forwarder } from "../forwarder.ts";
import { FD_RESERVE } from "./listener_forwarder.ts";
import { UnservedGate } from "./unserved_gate.ts";
import { type Clock, systemClock } from "../../support/clock.ts";
import { SettleGate } from "../settle_gate.ts";
import type { OpenFilesLimit } from "../../support/open_files.ts";
import { bindingKey, type PortEntry } from "../../binding/binding.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { listeningSocketsReader } from "./listening_sockets.ts";

/** The desired sets of every forwarder, as one thing to drive. */
export interface DesiredSets {
  /** `forwarder` should have `binding`. */
  want(forwarder: string, binding: TrackedBinding): void;
  /** `forwarder` should not have `key`. */
  unwant(forwarder: string, key: string): void;
  /** The queue's status and the gate's. */
  deliveries(): DeliveryStatus[];
  /** Drops the agent's own sockets (listeners, relays) from a source's entries. */
  withoutOwnSockets(entries: readonly PortEntry[]): PortEntry[];
  /** Stops the gate. */
  close(): void;
}

/** Settings of {@linkcode desiredSetsOf}. */
export interface DesiredSetSettings {
  /** How long a port must stay unserved before it gets a listener. */
  readonly settleMs: number;
  /** The open-files limit, for the warning when listeners outgrow it. */
  readonly limit: OpenFilesLimit | undefined;
  /** libc, to read the listening sockets through. */
  readonly libcPath: string | undefined;
  /** The agent's clock. */
  readonly clock?: Clock;
}

/** What stands between the router and a forwarder's desired set. */
type Gate = Pick<UnservedGate, "want" | "unwant" | "status" | "close">;

/**
 * The listener forwarder's gate: a port gets a listener only once nothing
 * in the VM served it for the settle time; warns once when the listeners
 * outgrow the open-files limit.
 */
function listenerGate(
  queue: DeliveryQueue,
  forwarder: string,
  settings: DesiredSetSettings,
): Gate {
  const logger = getLogger(["guest-agent"]);
  const { limit } = settings;
  if (limit !== undefined) {
    logger.info("open-files limit {soft} (hard {hard}): one per listener", {
      soft: limit.soft,
      hard: limit.hard,
    });
  }
  // Each listener takes a descriptor: say so once when they outgrow the limit.
  const withListener = new Set<string>();
  let warnedLimit = false;
  return new UnservedGate({
    forwarder,
    settleMs: settings.settleMs,
    ...(settings.clock ? { clock: settings.clock } : {}),
    want: (binding) => {
      withListener.add(binding.key);
      if (
        !warnedLimit && limit !== undefined &&
        withListener.size > limit.soft - FD_RESERVE
      ) {
        warnedLimit = true;
        logger.warn(
          "{count} ports want listeners, more than the open-files limit {soft} leaves room for: raise it (LimitNOFILE= in the systemd unit, rc_ulimit in the OpenRC script); the rest are retried",
          { count: withListener.size, soft: limit.soft },
        );
      }
      queue.want(forwarder, binding);
    },
    unwant: (key) => {
      withListener.delete(key);
      queue.unwant(forwarder, key);
    },
    listening: listeningSocketsReader(settings.libcPath),
  });
}

/**
 * The lanes of `queue`: a forwarder among `forwarders` that holds
 * listening sockets gets its bindings through an {@linkcode UnservedGate}, one that declares
 * `settleMs` through a {@linkcode SettleGate}, the others directly.
 */
export function desiredSetsOf(
  queue: DeliveryQueue,
  forwarders: readonly Forwarder[],
  settings: DesiredSetSettings,
): DesiredSets {
  const gates = new Map<string, Gate>();
  for (const f of forwarders.filter((f) => f.holdsListeningSockets)) {
    gates.set(f.name, listenerGate(queue, f.name, settings));
  }
  for (const f of forwarders) {
    if (f.holdsListeningSockets || f.settleMs === undefined) continue;
    gates.set(
      f.name,
      new SettleGate({
        forwarder: f.name,
        settleMs: f.settleMs,
        clock: settings.clock ?? systemClock,
        want: (binding) => queue.want(f.name, binding),
        unwant: (key) => queue.unwant(f.name, key),
      }),
    );
  }
  const socketHolders = forwarders.filter((f) => f.openKeys !== undefined);
  return {
    want: (forwarder, binding) => {
      const gate = gates.get(forwarder);
      if (gate) gate.want(binding);
      else queue.want(forwarder, binding);
    },
    unwant: (forwarder, key) => {
      const gate = gates.get(forwarder);
      if (gate) gate.unwant(key);
      else queue.unwant(forwarder, key);
    },
    deliveries: () => [
      ...queue.status(),
      ...[...gates.values()].flatMap((gate) => gate.status()),
    ],
    // The forwarders' own sockets must never come back in as ports.
    withoutOwnSockets: (entries) => {
      if (socketHolders.length === 0) return [...entries];
      const own = new Set(socketHolders.flatMap((f) => f.openKeys?.() ?? []));
      return entries.filter((entry) => !own.has(bindingKey(entry.binding)));
    },
    close: () => {
      for (const gate of gates.values()) gate.close();
    },
  };
}
