/**
 * What the control API answers, built from the agent's state (pure), and
 * how the `ports` and `status` commands print it.
 *
 * @module
 */
import type {
  DeliveryStatus,
  LaneStatus,
} from "../forwarding/delivery_queue.ts";
import type { SourceStatus } from "../sources/supervisor.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** One owner of a binding. */
export interface PortOwner {
  /** The source that reported it. */
  readonly source: string;
  /** Container, service or rule name (else its id). */
  readonly name: string;
  /** The owner's id in its source. */
  readonly id: string;
}

/** How one forwarder stands with one binding. */
export interface PortDelivery {
  /** The forwarder. */
  readonly forwarder: string;
  /** forwarded, logged, pending, retrying, removing or skipped. */
  readonly state: DeliveryStatus["state"];
  /** Failed attempts in a row. */
  readonly attempts: number;
  /** The last failure, while retrying. */
  readonly lastError?: string;
  /** Why the forwarder does not take it, when skipped. */
  readonly reason?: string;
  /** Since when (wall-clock ms). */
  readonly since: number;
}

/** One row of `ports`. */
export interface PortRow {
  /** tcp or udp. */
  readonly protocol: string;
  /** `address:port` (`[v6]:port`). */
  readonly address: string;
  /** The binding key. */
  readonly key: string;
  /** Who holds it. */
  readonly owners: PortOwner[];
  /** Each forwarder it is routed to; empty when only logged or routed nowhere. */
  readonly deliveries: PortDelivery[];
  /** When it appeared (wall-clock ms). */
  readonly since: number;
}

/** One source in `status`. */
export interface SourceRow {
  /** The source. */
  readonly name: string;
  /** Its worker: starting, running, restarting, stopped. */
  readonly worker: string;
  /** connected, waiting or reconnecting, as the source said. */
  readonly state?: string;
  /** Why, as the source said. */
  readonly reason?: string;
  /** Worker restarts. */
  readonly restarts: number;
  /** The last failure. */
  readonly lastError?: string;
  /** Last snapshot, upsert or remove (wall-clock ms). */
  readonly lastEventAt?: number;
  /** Bindings it holds. */
  readonly bindings: number;
  /** Its counters (e.g. Docker's `mispredictions`). */
  readonly counters?: Readonly<Record<string, number>>;
}

/** One forwarder in `status`. */
export interface ForwarderRow {
  /** The forwarder. */
  readonly name: string;
  /** Bindings forwarded. */
  readonly forwarded: number;
  /** Bindings with a call due or running. */
  readonly backlog: number;
  /** Bindings whose last call failed. */
  readonly retrying: number;
  /** Bindings it only logged (auto mode, `--dry-run`). */
  readonly logged: number;
  /** Bindings routed to it that it does not take (see `ports`). */
  readonly skipped: number;
  /** healthy: nothing retrying. */
  readonly healthy: boolean;
  /**
   * Its host side cannot be reached at all (not there yet, or gone): the
   * error of a binding it retries for that reason. A host side that answers
   * and refuses a binding leaves it only retrying.
   */
  readonly waiting?: string;
  /** Last read of its host side (wall-clock ms), for forwarders that read it. */
  readonly lastReadAt?: number;
  /** The last time its host side had lost bindings and they were restored. */
  readonly lastRestore?: {
    /** When it was noticed (wall-clock ms). */
    readonly at: number;
    /** How many bindings were lost. */
    readonly count: number;
  };
}

/** The answer of `status`. */
export interface AgentStatus {
  /** The agent's version. */
  readonly version: string;
  /** Its mode. */
  readonly mode: string;
  /** PID of the agent. */
  readonly pid: number;
  /** Seconds since it started. */
  readonly uptimeSeconds: number;
  /** Each running source. */
  readonly sources: SourceRow[];
  /** Each forwarder. */
  readonly forwarders: ForwarderRow[];
  /** Bindings tracked. */
  readonly bindings: number;
}

/** Converts the agent's monotonic clock times to wall-clock ms. */
export type ToWallClock = (monotonicMs: number) => number;

/**
 * The rows of `ports`.
 *
 * @param bindings The tracker's bindings.
 * @param deliveries The delivery queue's status.
 * @param appearedAt When each binding key appeared (the agent's clock).
 * @param toWall Converts the agent's clock times (queue, appearedAt).
 */
export function portRows(
  bindings: readonly TrackedBinding[],
  deliveries: readonly DeliveryStatus[],
  appearedAt: ReadonlyMap<string, number>,
  toWall: ToWallClock,
): PortRow[] {
  const byKey = new Map<string, PortDelivery[]>();
  for (const row of deliveries) {
    const list = byKey.get(row.key) ?? [];
    list.push({
      forwarder: row.forwarder,
      state: row.state,
      attempts: row.attempts,
      ...(row.lastError === undefined ? {} : { lastError: row.lastError }),
      ...(row.reason === undefined ? {} : { reason: row.reason }),
      since: toWall(row.since),
    });
    byKey.set(row.key, list);
  }
  return bindings.map((tracked) => {
    const { protocol, hostIp, hostPort } = tracked.binding;
    return {
      protocol,
      address: `${hostIp.includes(":") ? `[${hostIp}]` : hostIp}:${hostPort}`,
      key: tracked.key,
      owners: tracked.holders.map(({ source, entry }) => ({
        source,
        name: entry.name ?? entry.ownerId,
        id: entry.ownerId,
      })),
      deliveries: byKey.get(tracked.key) ?? [],
      since: toWall(appearedAt.get(tracked.key) ?? 0),
    };
  }).sort((a, b) =>
    a.protocol.localeCompare(b.protocol) ||
    portOf(a.address) - portOf(b.address) ||
    a.address.localeCompare(b.address)
  );
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/**
 * The source and forwarder rows of `status`.
 *
 * @param sources The supervisor's status.
 * @param forwarders Every forwarder's name.
 * @param deliveries The delivery queue's status.
 * @param bindings The tracker's bindings.
 * @param toWall Converts the supervisor's clock times.
 * @param lanes What the queue knows of each forwarder's host side.
 */
export function statusRows(
  sources: readonly SourceStatus[],
  forwarders: readonly string[],
  deliveries: readonly DeliveryStatus[],
  bindings: readonly TrackedBinding[],
  toWall: ToWallClock,
  lanes: readonly LaneStatus[] = [],
): { sources: SourceRow[]; forwarders: ForwarderRow[] } {
  const held = new Map<string, number>();
  for (const tracked of bindings) {
    for (const source of new Set(tracked.holders.map((h) => h.source))) {
      held.set(source, (held.get(source) ?? 0) + 1);
    }
  }
  return {
    sources: sources.map((source) => ({
      name: source.name,
      worker: source.worker,
      ...(source.state === undefined ? {} : { state: source.state }),
      ...(source.reason === undefined ? {} : { reason: source.reason }),
      restarts: source.restarts,
      ...(source.lastError === undefined
        ? {}
        : { lastError: source.lastError }),
      ...(source.lastEventAt === undefined
        ? {}
        : { lastEventAt: toWall(source.lastEventAt) }),
      bindings: held.get(source.name) ?? 0,
      ...(source.counters === undefined ? {} : { counters: source.counters }),
    })),
    forwarders: forwarders.map((name) => {
      const rows = deliveries.filter((row) => row.forwarder === name);
      const count = (state: DeliveryStatus["state"]) =>
        rows.filter((row) => row.state === state).length;
      const retrying = count("retrying");
      const away = rows.find((row) =>
        row.state === "retrying" && row.unreachable
      );
      const lane = lanes.find((l) => l.forwarder === name);
      return {
        name,
        forwarded: count("forwarded"),
        backlog: count("pending") + count("removing") + retrying,
        retrying,
        logged: count("logged"),
        skipped: count("skipped"),
        healthy: retrying === 0,
        ...(away ? { waiting: away.lastError ?? "" } : {}),
        ...(lane?.lastReadAt === undefined
          ? {}
          : { lastReadAt: toWall(lane.lastReadAt) }),
        ...(lane?.lastRestore === undefined ? {} : {
          lastRestore: {
            at: toWall(lane.lastRestore.at),
            count: lane.lastRestore.count,
          },
        }),
      };
    }),
  };
}
