/**
 * The pacing rule of the sources that scan (iptables, /proc/net), stated
 * once: a scan never starts sooner than SCAN_SPACING times its
 * predecessor's duration after the predecessor began. Kernel events and
 * quick confirmations may ask for scans back to back under churn (a
 * 1,000-port container restarting); with this rule a scanning source takes
 * at most a quarter of a core however large what it reads.
 *
 * @module
 */
import type { Clock } from "../../support/clock.ts";

/** A scan starts at least this many times its predecessor's duration after it. */
export const SCAN_SPACING = 4;

/** Remembers the last scan and says how long the next must wait. */
export class ScanPacing {
  readonly #clock: Clock;
  #startedAt = -Infinity;
  #durationMs = 0;

  /** @param clock The source's clock. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** How long to wait before the next scan may start (0: now). */
  delayMs(): number {
    return Math.max(
      0,
      this.#startedAt + SCAN_SPACING * this.#durationMs - this.#clock.now(),
    );
  }

  /** A scan starts now; returns the time it started. */
  started(): number {
    this.#startedAt = this.#clock.now();
    return this.#startedAt;
  }

  /** The scan that started last ended now; returns the time it ended. */
  ended(): number {
    const now = this.#clock.now();
    this.#durationMs = now - this.#startedAt;
    return now;
  }

  /** When the last scan started (the clock's time; -Infinity before any). */
  get lastStartedAt(): number {
    return this.#startedAt;
  }
}
