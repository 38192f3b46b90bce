/**
 * Requirements of tests that need root or a real engine: skip with a clear
 * message where missing, but fail when CI=true (CI installs everything).
 *
 * @module
 */

/** True when running in our CI, where nothing may be skipped. */
export const IN_CI: boolean = Deno.env.get("CI") === "true";

/**
 * Returns true when the test can run. Otherwise logs why it is skipped and
 * returns false, or throws under CI=true.
 *
 * @param what What the test needs ("root", "iptables-save").
 * @param available Whether it is there.
 */
export function requires(what: string, available: boolean): boolean {
  if (available) return true;
  const message = `needs ${what}, which this machine lacks`;
  if (IN_CI) {
    throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  }
  // deno-lint-ignore no-console -- the skip must be visible in the test output
  console.warn(`SKIPPED: ${message} (set up as .ci/run does to run it)`);
  return false;
}
