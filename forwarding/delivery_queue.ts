/**
 * Delivery of binding changes to forwarders, as reconciliation.
 *
 * Longer than our ~300-line rule on purpose: this is one state machine
 * (desired vs applied per forwarder, one call in flight per binding, reads
 * of the host side before calls) whose invariants hold only together; the
 * per-lane state, its status rows and the failure log are in lane.ts.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { backoffDelay, type BackoffOptions } from "../support/backoff.ts";
import { type Clock, systemClock } from "../support/clock.ts";
import type { StageProfile } from "../support/stage_profile.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import { type Forwarder, HostSideUnreachableError } from "./forwarder.ts";
import {
  type DeliveryStatus,
  failedAgain,
  type Lane,
  laneRows,
  type LaneStatus,
  laneSummary,
  logFailure,
  newLane,
} from "./lane.ts";

export type { DeliveryStatus, LaneStatus } from "./lane.ts";

/**
 * Options of {@linkcode DeliveryQueue}.
 *
 * @example Usage
 * ```ts
 * import { DeliveryQueue, type DeliveryQueueOptions, FakeClock, LogForwarder } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const options: DeliveryQueueOptions = {
 *   clock: new FakeClock(),
 *   backoff: { initialMs: 100, maxMs: 5_000 },
 * };
 * const queue = new DeliveryQueue([new LogForwarder()], options);
 * assert.equal(queue.isCaughtUp, true);
 * await queue.close();
 * ```
 */
export interface DeliveryQueueOptions {
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /** Retry delays. @default 250 ms doubling to 30 s */
  readonly backoff?: BackoffOptions;
  /**
   * Stamps `queued` before a forwarder's add or remove call, `called` when
   * the call returns its promise (with the libc sender: connected, written
   * and shut down), `delivered` when it resolves, which closes the trace.
   */
  readonly stageProfile?: StageProfile;
}

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
 * queue.want("memo", {
 *   key: "tcp/0.0.0.0:80",
 *   binding,
 *   holders: [{ source: "docker", entry: { ownerId: "c1", binding } }],
 * });
 * await queue.caughtUp();
 * await queue.close();
 * ```
 */
export class DeliveryQueue {
  #lanes = new Map<string, Lane>();
  #clock: Clock;
  #backoff: BackoffOptions;
  #profile: StageProfile | undefined;
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
    this.#profile = options.stageProfile;
    this.#logger = getLogger(["guest-agent", "delivery"]);
    for (const forwarder of forwarders) {
      if (this.#lanes.has(forwarder.name)) {
        throw new TypeError(
          `Cannot add forwarder ${forwarder.name}: the name is taken`,
        );
      }
      this.#lanes.set(forwarder.name, newLane(forwarder));
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
  want(forwarder: string, binding: TrackedBinding): void {
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
  unwant(forwarder: string, key: string): void {
    const lane = this.#lane(forwarder);
    lane.skipped.delete(key);
    if (!lane.desired.delete(key)) return;
    this.#markDirty(lane, key);
  }

  /** Makes nothing wanted on any forwarder (shutdown). */
  unwantAll(): void {
    for (const [name, lane] of this.#lanes) {
      lane.skipped.clear();
      for (const key of [...lane.desired.keys()]) this.unwant(name, key);
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
      await this.caughtUp(signal);
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
    const now = this.#clock.now();
    return [...this.#lanes.values()].flatMap((lane) => laneRows(lane, now));
  }

  /** What the queue knows of each forwarder's host side as a whole. */
  laneStatus(): LaneStatus[] {
    return [...this.#lanes.values()].map(laneSummary);
  }

  /** True when every forwarder's applied set equals its desired set. */
  get isCaughtUp(): boolean {
    for (const lane of this.#lanes.values()) {
      if (lane.dirty.size > 0 || lane.inFlight.size > 0) return false;
      if (lane.needsRefresh || lane.refreshing) return false;
    }
    return true;
  }

  /**
   * Resolves when every applied set equals its desired set, or when `signal`
   * aborts (then it resolves too: check {@linkcode isCaughtUp}).
   */
  caughtUp(signal?: AbortSignal): Promise<void> {
    if (this.isCaughtUp || signal?.aborted) return Promise.resolve();
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
    this.#abort.abort(new Error("Cannot deliver: the delivery queue closed"));
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
    this.#notifyIfCaughtUp();
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
    const profile = this.#profile;
    profile?.mark(key, "queued");
    let call: Promise<void>;
    try {
      call = forwarder[operation](binding, this.#abort.signal);
    } catch (error) {
      call = Promise.reject(error);
    }
    profile?.mark(key, "called");
    call.then(
      () => {
        profile?.close(key, "delivered");
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
        const now = this.#clock.now();
        const { failure, delay, news } = failedAgain(
          lane.failures.get(key),
          message,
          now,
          (attempts) => backoffDelay(attempts, this.#backoff),
        );
        if (news) {
          logFailure(this.#logger, lane, operation, binding, message, {
            delay,
            now,
          });
        }
        failure.unreachable = error instanceof HostSideUnreachableError;
        lane.failures.set(key, failure);
        // What the host side has is unknown now: read it before going on.
        if (forwarder.readApplied) lane.needsRefresh = true;
        lane.since.set(key, this.#clock.now());
        this.#pump(lane);
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
      (bindings) => this.#applyRead(lane, bindings),
      (error: unknown) => this.#readFailed(lane, error),
    );
  }

  /** The host side's answer: what is applied now; lost bindings are restored. */
  #applyRead(lane: Lane, bindings: TrackedBinding[]): void {
    const { forwarder } = lane;
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
  }

  /** The host side could not be read: try again with backoff. */
  #readFailed(lane: Lane, error: unknown): void {
    const { forwarder } = lane;
    lane.refreshing = false;
    if (this.#closed) return;
    const message = error instanceof Error ? error.message : String(error);
    // An audited host side is retried at least as often as it is audited.
    const { failure, delay, news } = failedAgain(
      lane.refreshFailure,
      message,
      this.#clock.now(),
      (attempts) =>
        Math.min(
          backoffDelay(attempts, this.#backoff),
          forwarder.auditEveryMs ?? Infinity,
        ),
    );
    if (news) {
      this.#logger.warn(
        "{forwarder}: cannot read the host side: {error}; retrying in {delay} ms",
        { forwarder: forwarder.name, error: message, delay },
      );
    }
    lane.refreshFailure = failure;
    this.#pump(lane);
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

  #notifyIfCaughtUp(): void {
    if (this.#waiters.length === 0 || !this.isCaughtUp) return;
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
