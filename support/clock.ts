/**
 * Time, injected: the real clock and a fake one for tests.
 *
 * @module
 */

/**
 * Handle of a scheduled callback.
 *
 * @example Usage
 * ```ts
 * import { FakeClock, type TimerId } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const clock = new FakeClock();
 * let fired = false;
 * const timer: TimerId = clock.setTimeout(() => fired = true, 100);
 * clock.clearTimeout(timer);
 * await clock.advance(200);
 * assert.equal(fired, false);
 * ```
 */
export type TimerId = number | ReturnType<typeof setTimeout>;

/**
 * The agent's one clock, injected ({@linkcode FakeClock} in tests): monotonic
 * time for every duration and deadline, and the one conversion to wall time
 * for what people read (`ports`, `status`).
 *
 * @example Usage
 * ```ts
 * import { type Clock, FakeClock, systemClock } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * function elapsed(clock: Clock, since: number): number {
 *   return clock.now() - since;
 * }
 * const clock = new FakeClock();
 * const start = clock.now();
 * await clock.advance(250);
 * assert.equal(elapsed(clock, start), 250);
 * assert(elapsed(systemClock, systemClock.now()) >= 0);
 * ```
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary epoch. */
  now(): number;
  /** The wall-clock time (ms since the Unix epoch) of the monotonic time `monotonicMs`. */
  toWall(monotonicMs: number): number;
  /** Calls `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): TimerId;
  /** Cancels a callback that has not run yet. */
  clearTimeout(id: TimerId): void;
}

/**
 * Milliseconds since the Unix epoch with sub-millisecond precision, on a
 * clock that workers and the main thread share (`performance.timeOrigin`
 * differs per thread; its sum with `performance.now()` does not). Messages
 * carry it across threads (`observedAt`).
 *
 * @example Usage
 * ```ts
 * import { wallClockMs } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert(Math.abs(wallClockMs() - Date.now()) < 1_000);
 * ```
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The real clock: `performance.now()`, its wall-clock time, the global timers.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const before = systemClock.now();
 * assert(systemClock.now() >= before);
 * ```
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  toWall: (monotonicMs) => performance.timeOrigin + monotonicMs,
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** Resolves after `delayMs`, or rejects with the signal's reason when it aborts. */
export function sleep(
  clock: Clock,
  delayMs: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(id);
      reject(signal?.reason);
    };
    const id = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Sleeps like {@linkcode sleep}, but tells instead of throwing: true after
 * `delayMs`, false when `signal` aborted first.
 */
export async function sleptUnlessAborted(
  clock: Clock,
  delayMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await sleep(clock, delayMs, signal);
    return true;
  } catch {
    return false;
  }
}

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to, for tests.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * let fired = false;
 * clock.setTimeout(() => fired = true, 100);
 * await clock.advance(100);
 * fired; // true
 * ```
 */
export class FakeClock implements Clock {
  #now = 0;
  readonly #wallEpochMs: number;

  /**
   * Creates a clock at fake time 0.
   *
   * @param wallEpochMs The wall-clock time of fake time 0.
   */
  constructor(wallEpochMs: number = Date.UTC(2026, 0, 1)) {
    this.#wallEpochMs = wallEpochMs;
  }
  #nextId = 1;
  #timers: FakeTimer[] = [];

  /** The fake time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** The wall-clock time of fake time `monotonicMs`. */
  toWall(monotonicMs: number): number {
    return this.#wallEpochMs + monotonicMs;
  }

  /** Schedules `callback` at now + `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): number {
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  /** Cancels a scheduled callback. */
  clearTimeout(id: TimerId): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== id);
  }

  /** Number of callbacks waiting. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, running due callbacks in time order and
   * letting promise callbacks settle after each one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.#timers
        .filter((timer) => timer.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#now = next.at;
      next.callback();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }
}

/** Lets every queued promise callback run (a macrotask turn). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
