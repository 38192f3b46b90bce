/**
 * Waiting for a condition in tests that drive real workers or processes.
 *
 * @module
 */

/**
 * Resolves when `condition()` is true; rejects after `timeoutMs`.
 *
 * @param condition Checked every 10 ms.
 * @param timeoutMs How long to wait. @default 10000
 * @param describe Text for the timeout error (what was being waited for).
 */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 10_000,
  describe: () => string = () => "",
): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting${describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
