/**
 * Two sizes for the slow real-engine tests: the size that proves the
 * behaviour (`deno task test`, the default) and the stress size (`deno task
 * test:stress`, which sets `GUEST_AGENT_TEST_SIZE=stress`). The assertions
 * are the same at both sizes; only the numbers change.
 *
 * @module
 */

/** The environment variable that selects the stress sizes. */
export const TEST_SIZE_VARIABLE = "GUEST_AGENT_TEST_SIZE";

/** True under `deno task test:stress`. */
export const STRESS: boolean = Deno.env.get(TEST_SIZE_VARIABLE) === "stress";

/**
 * `normal` in the ordinary test run, `stress` under `deno task test:stress`.
 *
 * @param normal The size that proves the behaviour.
 * @param stress The stress size.
 * @returns The size for this run.
 */
export function sized<T>(normal: T, stress: T): T {
  return STRESS ? stress : normal;
}

/** `n` with thousands separators, as test names print sizes. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}
