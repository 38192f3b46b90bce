/**
 * Delivery of binding changes to forwarders, as reconciliation.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { backoffDelay, type BackoffOptions } from "../support/backoff.ts";
import { type Clock, systemClock, type TimerId } from "../support/clock.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import type { Forwarder } from "./forwarder.ts";
import { describeOwners } from "../tracker/describe_owners.ts";

/** Where one binding stands with one forwarder. */
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
  /** Why the forwarder does not take it, when skipped. */
  readonly reason?: string;
  /** Clock time of the last state change. */
  readonly since: number;
}

/** What the queue knows of one forwarder's host side as a whole. */
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

/** Options of {@linkcode DeliveryQueue}. */
export interface DeliveryQueueOptions {
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /** Retry delays. @default 250 ms doubling to 30 s */
  readonly backoff?: BackoffOptions;
}

interface Failure {
  attempts: number;
  notBefore: number;
  lastError: string;
}

interface Lane {
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

/** A failure cause is logged at most once this often per forwarder. */
const CAUSE_LOG_INTERVAL_MS = 60_000;

/**
 * One queue for all forwarders. Each forwarder has a desired set (set by the
 * router) and an applied set (what the host side has, as far as we know);
 * the queue calls `add` and `remove` until they are equal. So:
 * failures retry with capped backoff, per binding; one call per binding is
 * in flight at a time, which keeps the order per binding; an add and a
 * remove that are both still pending cancel out; a forwarder that recovers
 * receives the current truth, never a replay of stale history.
 *
 * @example
 * ```ts
 * import { DeliveryQueue } from "./delivery_queue.ts";
 * const seen: string[] = [];
 * const queue = new DeliveryQueue([{
 *   name: "memo",
 *   add: async (b) => { seen.push("+" + b.key); },
 *   remove: async (b) => { seen.push("-" + b.key); },
 * }]);
 * const binding = { protocol: "tcp", hostIp: "0.0.0.0", hostPort: 80 } as const;
 * queue.setDesired("memo", {
 *   key: "tcp/0.0.0.0:80",
 *   binding,
 *   holders: [{ source: "docker", entry: { ownerId: "c1", binding } }],
 * });
 * await queue.settled();
 * await queue.close();
 * ```
 */
export class DeliveryQueue {
  #lanes = new Map<string, Lane>();
  #clock: Clock;
  #backoff: BackoffOptions;
  #logger: Logger;
  #abort = new AbortController();
  #waiters: (() => void)[] = [];
  #closed = false;

  /**
   * Creates the queue with one lane per forwarder.
   *
   * @param forwarders The forwarders, each with a unique name.
   * @param options Clock and backoff.
   */
  constructor(
    forwarders: readonly Forwarder[],
    options: DeliveryQueueOptions = {},
  ) {
    this.#clock = options.clock ?? systemClock;
    this.#backoff = options.backoff ?? {};
    this.#logger = getLogger(["guest-agent", "delivery"]);
    for (const forwarder of forwarders) {
      if (this.#lanes.has(forwarder.name)) {
        throw new TypeError(
          `Cannot add forwarder ${forwarder.name}: the name is taken`,
        );
      }
      this.#lanes.set(forwarder.name, {
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
      });
    }
    // Forwarders with a readable host side converge at start even when
    // nothing is wanted yet (stale entries from an earlier run go).
    for (const lane of this.#lanes.values()) {
      if (lane.needsRefresh) queueMicrotask(() => this.#pump(lane));
    }
  }

  /** Names of the forwarders, in the order given. */
  get forwarders(): string[] {
    return [...this.#lanes.keys()];
  }

  /**
   * Makes `binding` wanted on `forwarder` (replacing what was wanted under
   * its key). A binding the forwarder does not take (its `skipReason`) is
   * recorded as skipped instead.
   */
  setDesired(forwarder: string, binding: TrackedBinding): void {
    const lane = this.#lane(forwarder);
    const reason = lane.forwarder.skipReason?.(binding);
    if (reason !== undefined) {
      lane.skipped.set(binding.key, { binding, reason });
      if (lane.desired.delete(binding.key)) this.#markDirty(lane, binding.key);
      return;
    }
    lane.skipped.delete(binding.key);
    lane.desired.set(binding.key, binding);
    this.#markDirty(lane, binding.key);
  }

  /** Makes the binding with `key` unwanted on `forwarder`. */
  unsetDesired(forwarder: string, key: string): void {
    const lane = this.#lane(forwarder);
    lane.skipped.delete(key);
    if (!lane.desired.delete(key)) return;
    this.#markDirty(lane, key);
  }

  /** Makes nothing wanted on any forwarder (shutdown). */
  clearDesired(): void {
    for (const [name, lane] of this.#lanes) {
      lane.skipped.clear();
      for (const key of [...lane.desired.keys()]) this.unsetDesired(name, key);
    }
  }

  /**
   * Reads the host side of every forwarder that can be read, reconciles,
   * and reads again until a read finds exactly what is wanted. At shutdown,
   * with nothing wanted, that is the host side showing none of this agent's
   * bindings.
   *
   * @returns true when confirmed; false when `signal` aborted or the queue
   *   closed first.
   */
  async confirm(signal?: AbortSignal): Promise<boolean> {
    const readable = [...this.#lanes.values()].filter((lane) =>
      lane.forwarder.readApplied !== undefined
    );
    for (;;) {
      for (const lane of readable) {
        lane.needsRefresh = true;
        this.#pump(lane);
      }
      await this.settled(signal);
      if (signal?.aborted || this.#closed) return false;
      // Settled right after a read that found nothing to change: confirmed.
      if (readable.every((lane) => lane.lastReadMatched)) return true;
    }
  }

  /** Keys wanted on `forwarder`. */
  desiredKeys(forwarder: string): string[] {
    return [...this.#lane(forwarder).desired.keys()].sort();
  }

  /** Keys the host side of `forwarder` has, as far as the queue knows. */
  appliedKeys(forwarder: string): string[] {
    return [...this.#lane(forwarder).applied.keys()].sort();
  }

  /** Where every wanted, applied or skipped binding stands, per forwarder. */
  status(): DeliveryStatus[] {
    const rows: DeliveryStatus[] = [];
    for (const [name, lane] of this.#lanes) {
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
          since: lane.since.get(key) ?? this.#clock.now(),
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
          since: lane.since.get(key) ?? this.#clock.now(),
        });
      }
    }
    return rows;
  }

  /** What the queue knows of each forwarder's host side as a whole. */
  laneStatus(): LaneStatus[] {
    return [...this.#lanes.values()].map((lane) => ({
      forwarder: lane.forwarder.name,
      ...(lane.refreshFailure
        ? { readError: lane.refreshFailure.lastError }
        : {}),
      ...(lane.lastReadAt === undefined ? {} : { lastReadAt: lane.lastReadAt }),
      ...(lane.lastRestore ? { lastRestore: { ...lane.lastRestore } } : {}),
    }));
  }

  /** True when every forwarder's applied set equals its desired set. */
  get isSettled(): boolean {
    for (const lane of this.#lanes.values()) {
      if (lane.dirty.size > 0 || lane.inFlight.size > 0) return false;
      if (lane.needsRefresh || lane.refreshing) return false;
    }
    return true;
  }

  /**
   * Resolves when every applied set equals its desired set, or when `signal`
   * aborts (then it resolves too: check {@linkcode isSettled}).
   */
  settled(signal?: AbortSignal): Promise<void> {
    if (this.isSettled || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.#waiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Aborts calls in flight, stops retrying and closes every forwarder. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new Error("delivery queue closed"));
    for (const lane of this.#lanes.values()) {
      if (lane.timer !== undefined) this.#clock.clearTimeout(lane.timer);
      if (lane.auditTimer !== undefined) {
        this.#clock.clearTimeout(lane.auditTimer);
      }
    }
    for (const waiter of this.#waiters.splice(0)) waiter();
    for (const lane of this.#lanes.values()) {
      try {
        await lane.forwarder.close?.();
      } catch (error) {
        this.#logger.warn(
          "Cannot close forwarder {forwarder}: {error}",
          { forwarder: lane.forwarder.name, error: String(error) },
        );
      }
    }
  }

  #lane(name: string): Lane {
    const lane = this.#lanes.get(name);
    if (lane === undefined) {
      throw new TypeError(
        `Cannot route to forwarder ${name}: no such forwarder`,
      );
    }
    return lane;
  }

  #markDirty(lane: Lane, key: string): void {
    lane.dirty.add(key);
    lane.since.set(key, this.#clock.now());
    // A new wish resets the retry schedule: the host side may be back.
    const failure = lane.failures.get(key);
    if (failure) failure.notBefore = this.#clock.now();
    this.#pump(lane);
  }

  #identity(lane: Lane, binding: TrackedBinding): string {
    return lane.forwarder.identity?.(binding) ?? binding.key;
  }

  #pump(lane: Lane): void {
    if (this.#closed) return;
    if (lane.needsRefresh || lane.refreshing) {
      // Wait for calls in flight, then read the host side before any new call.
      if (lane.refreshing || lane.inFlight.size > 0) return;
      const notBefore = lane.refreshFailure?.notBefore ?? 0;
      if (notBefore > this.#clock.now()) return this.#schedule(lane, notBefore);
      return this.#refresh(lane);
    }
    const limit = Math.max(1, lane.forwarder.concurrency ?? 8);
    const now = this.#clock.now();
    let nextRetry = Infinity;
    // Iterating the set itself (deleting the visited key is safe) keeps a
    // pump O(in flight + waiting) instead of copying every dirty key.
    for (const key of lane.dirty) {
      if (lane.inFlight.size >= limit) break;
      if (lane.inFlight.has(key)) continue;
      const failure = lane.failures.get(key);
      if (failure && failure.notBefore > now) {
        nextRetry = Math.min(nextRetry, failure.notBefore);
        continue;
      }
      const want = lane.desired.get(key);
      const have = lane.applied.get(key);
      if (
        want && have &&
        this.#identity(lane, want) === this.#identity(lane, have)
      ) {
        lane.applied.set(key, want);
        this.#clean(lane, key);
      } else if (have) {
        this.#call(lane, key, "remove", have);
      } else if (want) {
        this.#call(lane, key, "add", want);
      } else {
        this.#clean(lane, key);
      }
    }
    this.#schedule(lane, nextRetry);
    this.#notifyIfSettled();
  }

  #clean(lane: Lane, key: string): void {
    lane.dirty.delete(key);
    lane.failures.delete(key);
    if (!lane.desired.has(key)) lane.since.delete(key);
    else lane.since.set(key, this.#clock.now());
  }

  #schedule(lane: Lane, at: number): void {
    if (at === Infinity || (lane.timerAt !== undefined && lane.timerAt <= at)) {
      return;
    }
    if (lane.timer !== undefined) this.#clock.clearTimeout(lane.timer);
    lane.timerAt = at;
    lane.timer = this.#clock.setTimeout(() => {
      lane.timer = undefined;
      lane.timerAt = undefined;
      this.#pump(lane);
    }, at - this.#clock.now());
  }

  #call(
    lane: Lane,
    key: string,
    operation: "add" | "remove",
    binding: TrackedBinding,
  ): void {
    lane.inFlight.add(key);
    const forwarder = lane.forwarder;
    let call: Promise<void>;
    try {
      call = forwarder[operation](binding, this.#abort.signal);
    } catch (error) {
      call = Promise.reject(error);
    }
    call.then(
      () => {
        lane.inFlight.delete(key);
        if (operation === "add") lane.applied.set(key, binding);
        else lane.applied.delete(key);
        const failure = lane.failures.get(key);
        if (failure) {
          this.#logger.info(
            "{forwarder}: {operation} {key} succeeded after {attempts} failed attempts",
            {
              forwarder: forwarder.name,
              operation,
              key,
              attempts: failure.attempts,
            },
          );
          lane.failures.delete(key);
        } else {
          this.#logger.debug("{forwarder}: {operation} {key}", {
            forwarder: forwarder.name,
            operation,
            key,
          });
        }
        this.#pump(lane);
      },
      (error: unknown) => {
        lane.inFlight.delete(key);
        if (this.#closed) return;
        const message = error instanceof Error ? error.message : String(error);
        const failure = lane.failures.get(key) ??
          { attempts: 0, notBefore: 0, lastError: "" };
        const delay = backoffDelay(failure.attempts, this.#backoff);
        if (failure.attempts === 0 || failure.lastError !== message) {
          this.#logFailure(lane, operation, binding, message, delay);
        }
        failure.attempts++;
        failure.lastError = message;
        failure.notBefore = this.#clock.now() + delay;
        lane.failures.set(key, failure);
        // What the host side has is unknown now: read it before going on.
        if (forwarder.readApplied) lane.needsRefresh = true;
        lane.since.set(key, this.#clock.now());
        this.#pump(lane);
      },
    );
  }

  /**
   * Logs a failed call, once per cause: a thousand bindings failing the
   * same way (the host side down, out of descriptors) make one line with
   * the first binding, then one line a minute saying how many more did.
   */
  #logFailure(
    lane: Lane,
    operation: "add" | "remove",
    binding: TrackedBinding,
    message: string,
    delay: number,
  ): void {
    const owner = describeOwners(binding);
    const cause = `${operation} ${
      message.replaceAll(binding.key, "<binding>").replaceAll(owner, "<owner>")
    }`;
    const now = this.#clock.now();
    const seen = lane.causes.get(cause);
    if (seen && now - seen.loggedAt < CAUSE_LOG_INTERVAL_MS) {
      seen.more++;
      return;
    }
    if (lane.causes.size > 1000) lane.causes.clear();
    lane.causes.set(cause, { loggedAt: now, more: 0 });
    this.#logger.warn(
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

  #refresh(lane: Lane): void {
    const { forwarder } = lane;
    lane.refreshing = true;
    let read: Promise<TrackedBinding[]>;
    try {
      read = forwarder.readApplied!(this.#abort.signal, [
        ...lane.desired.values(),
      ]);
    } catch (error) {
      read = Promise.reject(error);
    }
    read.then(
      (bindings) => {
        lane.refreshing = false;
        lane.needsRefresh = false;
        if (lane.refreshFailure) {
          this.#logger.info("{forwarder}: the host side answers again", {
            forwarder: forwarder.name,
          });
        }
        lane.refreshFailure = undefined;
        const now = this.#clock.now();
        const found = new Set(bindings.map((binding) => binding.key));
        // Given, still wanted, and gone without our asking: the host side
        // lost them (a restart). They are added again below.
        const lost = [...lane.applied.keys()].filter((key) =>
          lane.desired.has(key) && !found.has(key) && !lane.failures.has(key)
        );
        if (lost.length > 0) {
          lane.lastRestore = { at: now, count: lost.length };
          this.#logger.warn(
            "{forwarder}: the host side lost {count} of our bindings (restarted?): restoring {keys}",
            {
              forwarder: forwarder.name,
              count: lost.length,
              keys: lost.slice(0, 20).join(", ") +
                (lost.length > 20 ? ", …" : ""),
            },
          );
        }
        lane.lastReadAt = now;
        lane.lastReadMatched = found.size === lane.desired.size &&
          [...lane.desired.keys()].every((key) => found.has(key));
        this.#scheduleAudit(lane);
        lane.applied.clear();
        for (const binding of bindings) lane.applied.set(binding.key, binding);
        for (const key of [...lane.desired.keys(), ...lane.applied.keys()]) {
          lane.dirty.add(key);
        }
        this.#logger.debug(
          "{forwarder}: host side has {count} of our bindings",
          {
            forwarder: forwarder.name,
            count: bindings.length,
          },
        );
        this.#pump(lane);
      },
      (error: unknown) => {
        lane.refreshing = false;
        if (this.#closed) return;
        const message = error instanceof Error ? error.message : String(error);
        const failure = lane.refreshFailure ??
          { attempts: 0, notBefore: 0, lastError: "" };
        // An audited host side is retried at least as often as it is audited.
        const delay = Math.min(
          backoffDelay(failure.attempts, this.#backoff),
          forwarder.auditEveryMs ?? Infinity,
        );
        if (failure.attempts === 0 || failure.lastError !== message) {
          this.#logger.warn(
            "{forwarder}: cannot read the host side: {error}; retrying in {delay} ms",
            { forwarder: forwarder.name, error: message, delay },
          );
        }
        failure.attempts++;
        failure.lastError = message;
        failure.notBefore = this.#clock.now() + delay;
        lane.refreshFailure = failure;
        this.#pump(lane);
      },
    );
  }

  /** Reads the host side again `auditEveryMs` after the last read. */
  #scheduleAudit(lane: Lane): void {
    const every = lane.forwarder.auditEveryMs;
    if (every === undefined || this.#closed) return;
    if (lane.auditTimer !== undefined) {
      this.#clock.clearTimeout(lane.auditTimer);
    }
    lane.auditTimer = this.#clock.setTimeout(() => {
      lane.auditTimer = undefined;
      lane.needsRefresh = true;
      this.#pump(lane);
    }, every);
  }

  #notifyIfSettled(): void {
    if (this.#waiters.length === 0 || !this.isSettled) return;
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
