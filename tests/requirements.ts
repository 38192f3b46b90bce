/**
 * Requirements of tests that need root or a real engine. A test that cannot
 * run here is registered as ignored (`Deno.test(name, { ignore }, fn)`), so
 * the report says "ignored", never "ok"; under CI=true (CI installs
 * everything) a missing requirement fails the test module instead.
 *
 * @module
 */

import { runCommand } from "../support/run_command.ts";

/** True when running in our CI, where nothing may be skipped. */
export const IN_CI: boolean = Deno.env.get("CI") === "true";

/**
 * The `ignore` option of a test that needs `what`: false when it is
 * available. Otherwise it says why the test is ignored and returns true, or
 * throws under CI=true.
 *
 * @param what What the test needs ("root", "iptables-save").
 * @param available Whether it is there (decided before the test registers).
 * @returns Whether to register the test as ignored.
 * @throws {Error} Under CI=true when `available` is false.
 */
export function ignoreUnless(what: string, available: boolean): boolean {
  if (available) return false;
  const message = `needs ${what}, which this machine lacks`;
  if (IN_CI) {
    throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  }
  // deno-lint-ignore no-console -- the reason must be visible in the test output
  console.warn(`IGNORED: ${message} (set up as .ci/run does to run it)`);
  return true;
}

/**
 * Whether `command args` runs and exits 0 here (a missing program is false,
 * not a throw).
 */
export async function commandSucceeds(
  command: string,
  args: readonly string[],
): Promise<boolean> {
  try {
    return (await runCommand(command, args)).code === 0;
  } catch {
    return false;
  }
}
