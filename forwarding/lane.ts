/**
 * The delivery queue's state per forwarder (a lane), the status rows read
 * from it, and the failure log that says each cause once a minute.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { TimerId } from "../support/clock.ts";
import { describeOwners } from "../tracker/describe_owners.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import type { Forwarder } from "./forwarder.ts";

/**
 * Where one binding stands with one forwarder.
 *
 * @example Usage
 * ```ts
 * import { DeliveryQueue, type DeliveryStatus, type Forwarder, makeBinding, PortTracker } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const ok: Forwarder = { name: "ok", add: () => Promise.resolve(), remove: () => Promise.resolve() };
 * const queue = new DeliveryQueue([ok]);
 * const tracker = new PortTracker();
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * const { added } = tracker.apply({ type: "snapshot", source: "docker", entries: [{ ownerId: "c1", binding }] });
 * queue.want("ok", added[0]!);
 * await queue.caughtUp();
 * const [row]: DeliveryStatus[] = queue.status();
 * assert.deepEqual([row!.key, row!.state], ["tcp/0.0.0.0:80", "forwarded"]);
 * await queue.close();
 * ```
 */
export interface DeliveryStatus {
  /** The forwarder. */
  readonly forwarder: string;
  /** The binding's key. */
  readonly key: string;
  /**
   * forwarded: applied and wanted; logged: applied by a forwarder that only
   * logs; pending: a call is due or running; retrying: the last call failed;
   * removing: applied but no longer wanted; skipped: wanted, but the
   * forwarder does not take it (see `reason`).
   */
  readonly state:
    | "forwarded"
    | "logged"
    | "pending"
    | "retrying"
    | "removing"
    | "skipped";
  /** Failed attempts in a row. */
  readonly attempts: number;
  /** Message of the last failure, while retrying. */
  readonly lastError?: string;
  /** The last failure said the host side cannot be reached at all. */
  readonly unreachable?: boolean;
  /** Why the forwarder does not take it, when skipped. */
  readonly reason?: string;
  /** Clock time of the last state change. */
  readonly since: number;
}

/**
 * What the queue knows of one forwarder's host side as a whole.
 *
 * @example Usage
 * ```ts
 * import { DeliveryQueue, type Forwarder, type LaneStatus } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const ok: Forwarder = { name: "ok", add: () => Promise.resolve(), remove: () => Promise.resolve() };
 * const queue = new DeliveryQueue([ok]);
 * const [lane]: LaneStatus[] = queue.laneStatus();
 * assert.equal(lane!.forwarder, "ok");
 * await queue.close();
 * ```
 */
export interface LaneStatus {
  /** The forwarder. */
  readonly forwarder: string;
  /** Clock time of the last successful read of the host side, if it has one. */
  readonly lastReadAt?: number;
  /** Why the last read of the host side failed, while it does. */
  readonly readError?: string;
  /** The last time the host side had lost bindings it had been given. */
  readonly lastRestore?: {
    /** Clock time it was noticed (and the restore began). */
    readonly at: number;
    /** How many bindings it had lost. */
    readonly count: number;
  };
}

/** A call that failed, and when to try again. */
export interface Failure {
  attempts: number;
  notBefore: number;
  lastError: string;
  /** The last failure was a HostSideUnreachableError. */
  unreachable?: boolean;
}

/** One more failed attempt, as {@linkcode failedAgain} records it. */
export interface FailedAgain {
  /** The record, with this attempt counted. */
  readonly failure: Failure;
  /** How long until the next attempt, ms. */
  readonly delay: number;
  /** The first failure, or one with another error: worth a log line. */
  readonly news: boolean;
}

/**
 * Counts one more failed attempt (pure): the attempt count, the error, and
 * when to try again; the delay comes from `delayFor` with the attempts
 * before this one. The one bookkeeping of a call's failures and of a host
 * side that cannot be read.
 *
 * @param previous The record so far, or undefined for a first failure.
 * @param message The error's text.
 * @param now The clock's time now.
 * @param delayFor The delay after `attempts` earlier failed attempts.
 */
export function failedAgain(
  previous: Failure | undefined,
  message: string,
  now: number,
  delayFor: (attempts: number) => number,
): FailedAgain {
  const attempts = previous?.attempts ?? 0;
  const delay = delayFor(attempts);
  return {
    failure: {
      attempts: attempts + 1,
      lastError: message,
      notBefore: now + delay,
    },
    delay,
    news: attempts === 0 || previous?.lastError !== message,
  };
}

/** One forwarder's state in the delivery queue. */
export interface Lane {
  readonly forwarder: Forwarder;
  readonly desired: Map<string, TrackedBinding>;
  readonly applied: Map<string, TrackedBinding>;
  /** Keys whose desired and applied may differ. */
  readonly dirty: Set<string>;
  readonly inFlight: Set<string>;
  readonly failures: Map<string, Failure>;
  readonly since: Map<string, number>;
  /** Wanted bindings the forwarder does not take, with the reason. */
  readonly skipped: Map<string, { binding: TrackedBinding; reason: string }>;
  timer: TimerId | undefined;
  timerAt: number | undefined;
  /** The applied set must be read from the host side before the next call. */
  needsRefresh: boolean;
  refreshing: boolean;
  refreshFailure: Failure | undefined;
  auditTimer: TimerId | undefined;
  lastReadAt: number | undefined;
  /** The last successful read found exactly what was wanted. */
  lastReadMatched: boolean;
  lastRestore: { at: number; count: number } | undefined;
  /** Failure causes logged lately (see #logFailure). */
  readonly causes: Map<string, { loggedAt: number; more: number }>;
}

/** A lane for `forwarder` with nothing wanted or applied yet. */
export function newLane(forwarder: Forwarder): Lane {
  return {
    forwarder,
    desired: new Map(),
    applied: new Map(),
    dirty: new Set(),
    inFlight: new Set(),
    failures: new Map(),
    since: new Map(),
    skipped: new Map(),
    timer: undefined,
    timerAt: undefined,
    needsRefresh: forwarder.readApplied !== undefined,
    refreshing: false,
    refreshFailure: undefined,
    auditTimer: undefined,
    lastReadAt: undefined,
    lastReadMatched: false,
    lastRestore: undefined,
    causes: new Map(),
  };
}

/** Where every binding of `lane` stands (`now`: for rows without a time). */
export function laneRows(lane: Lane, now: number): DeliveryStatus[] {
  const name = lane.forwarder.name;
  const rows: DeliveryStatus[] = [];
  const applied = lane.forwarder.onlyLogs ? "logged" : "forwarded";
  const keys = new Set([...lane.desired.keys(), ...lane.applied.keys()]);
  for (const key of [...keys].sort()) {
    const failure = lane.failures.get(key);
    const wanted = lane.desired.has(key);
    const state = failure
      ? "retrying"
      : !wanted
      ? "removing"
      : lane.dirty.has(key)
      ? "pending"
      : applied;
    rows.push({
      forwarder: name,
      key,
      state,
      attempts: failure?.attempts ?? 0,
      ...(failure ? { lastError: failure.lastError } : {}),
      ...(failure?.unreachable ? { unreachable: true } : {}),
      since: lane.since.get(key) ?? now,
    });
  }
  for (const [key, { reason }] of lane.skipped) {
    if (keys.has(key)) continue;
    rows.push({
      forwarder: name,
      key,
      state: "skipped",
      attempts: 0,
      reason,
      since: lane.since.get(key) ?? now,
    });
  }
  return rows;
}

/** What is known of `lane`'s host side as a whole. */
export function laneSummary(lane: Lane): LaneStatus {
  return {
    forwarder: lane.forwarder.name,
    ...(lane.refreshFailure
      ? { readError: lane.refreshFailure.lastError }
      : {}),
    ...(lane.lastReadAt === undefined ? {} : { lastReadAt: lane.lastReadAt }),
    ...(lane.lastRestore ? { lastRestore: { ...lane.lastRestore } } : {}),
  };
}

/** A failure cause is logged at most once this often per forwarder. */
const CAUSE_LOG_INTERVAL_MS = 60_000;

/**
 * Logs a failed call, once per cause: a thousand bindings failing the
 * same way (the host side down, out of descriptors) make one line with
 * the first binding, then one line a minute saying how many more did.
 */
export function logFailure(
  logger: Logger,
  lane: Lane,
  operation: "add" | "remove",
  binding: TrackedBinding,
  message: string,
  { delay, now }: { readonly delay: number; readonly now: number },
): void {
  const owner = describeOwners(binding);
  const cause = `${operation} ${
    message.replaceAll(binding.key, "<binding>").replaceAll(owner, "<owner>")
  }`;
  const seen = lane.causes.get(cause);
  if (seen && now - seen.loggedAt < CAUSE_LOG_INTERVAL_MS) {
    seen.more++;
    return;
  }
  if (lane.causes.size > 1000) lane.causes.clear();
  lane.causes.set(cause, { loggedAt: now, more: 0 });
  logger.warn(
    "{forwarder}: cannot {operation} {key} (owner {owner}): {error}; retrying in {delay} ms{more}",
    {
      forwarder: lane.forwarder.name,
      operation,
      key: binding.key,
      owner,
      error: message,
      delay,
      more: seen && seen.more > 0
        ? ` (and ${seen.more} more failed the same way since the last such line)`
        : "",
    },
  );
}
