/**
 * Capped exponential backoff with jitter.
 *
 * @module
 */

/**
 * Options of {@linkcode backoffDelay}.
 *
 * @example Usage
 * ```ts
 * import { backoffDelay, type BackoffOptions } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const options: BackoffOptions = { initialMs: 100, maxMs: 1_000, jitter: 0 };
 * assert.equal(backoffDelay(10, options), 1_000);
 * ```
 */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. @default 250 */
  readonly initialMs?: number;
  /** The largest delay, in ms. @default 30000 */
  readonly maxMs?: number;
  /** Growth per attempt. @default 2 */
  readonly factor?: number;
  /** Fraction of the delay that is random (0 to 1). @default 0.2 */
  readonly jitter?: number;
  /** Random source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry).
 *
 * @param attempt How many retries came before this one.
 * @param options Initial and maximum delay, growth and jitter.
 * @returns The delay in milliseconds, never above `maxMs`.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * backoffDelay(3, { initialMs: 100, jitter: 0 }); // 800
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
): number {
  const {
    initialMs = 250,
    maxMs = 30_000,
    factor = 2,
    jitter = 0.2,
    random = Math.random,
  } = options;
  const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
  const spread = base * Math.min(1, Math.max(0, jitter));
  return Math.min(maxMs, Math.round(base - spread + spread * random()));
}
