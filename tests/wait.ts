/**
 * Waiting for a condition in tests that drive real workers or processes.
 *
 * @module
 */

/** How {@linkcode waitFor} looks. */
export interface WaitOptions {
  /** Between two looks, in ms. @default 10 */
  readonly intervalMs?: number;
  /** Says why waiting is pointless now (a process exited), or undefined. */
  readonly gaveUp?: () => string | undefined;
}

/**
 * Resolves when `condition()` is true; rejects after `timeoutMs`, or as
 * soon as `options.gaveUp` gives a reason. The one poll loop of the tests:
 * wait for the state you then assert, never for a first sign of it.
 *
 * @param condition Checked every `options.intervalMs`; may be async.
 * @param timeoutMs How long to wait. @default 10000
 * @param describe Text for the error (what was being waited for, what there is).
 * @param options Interval and a reason to stop early.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  describe: () => string = () => "",
  options: WaitOptions = {},
): Promise<void> {
  const { intervalMs = 10, gaveUp } = options;
  const start = performance.now();
  while (!await condition()) {
    const reason = gaveUp?.();
    if (reason !== undefined) {
      throw new Error(`${reason}, while waiting${describe()}`);
    }
    if (performance.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting${describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
