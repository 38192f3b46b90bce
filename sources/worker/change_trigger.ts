/**
 * Change notifications (a {@linkcode ChangeSubscription}: nf_tables
 * announcing ruleset changes) as what wakes a scan: debounced, so a burst
 * of changes is one scan, and never delayed by a burst for longer than a
 * bound.
 *
 * @module
 */
import type { Clock } from "../../support/clock.ts";
import type { ChangeSubscription } from "../../support/netlink_changes.ts";
import type { ScanTrigger, WakeReason } from "./rescan_loop.ts";

/** Options of {@linkcode changeTrigger}. */
export interface ChangeTriggerOptions {
  /** What wakes the scan, for `status` and the log. */
  readonly description: string;
  /** Quiet time after a change before scanning, in ms. */
  readonly debounceMs: number;
  /** Longest a burst of changes may delay a scan, in ms. */
  readonly maxDelayMs: number;
}

/**
 * Starts listening now; `next` returns "event" once changes came and then
 * stayed quiet for `debounceMs` (or `maxDelayMs` after the burst's first),
 * "timeout", or "stopped" when `signal` aborts. Changes during a scan are
 * kept for the next `next`. It throws once the subscription fails or ends
 * before the stop.
 *
 * @param listen The subscription.
 * @param clock Time source of the waits.
 * @param signal Ends the subscription.
 * @param options Description and debounce.
 */
export function changeTrigger(
  listen: ChangeSubscription,
  clock: Clock,
  signal: AbortSignal,
  options: ChangeTriggerOptions,
): ScanTrigger {
  let burstStart: number | undefined;
  let lastChange = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onChange = () => {
    lastChange = clock.now();
    burstStart ??= lastChange;
    wake?.();
  };
  const listening = listen(onChange, signal).then(
    () => {
      if (!signal.aborted) {
        failure = new Error("Cannot wait for changes: the notifications ended");
      }
    },
    (error: unknown) => {
      failure = error instanceof Error ? error : new Error(String(error));
    },
  ).finally(() => wake?.());
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });

  /** Waits until `at` on the clock, a change, a failure or the stop. */
  const waitUntil = (at: number) =>
    new Promise<void>((resolve) => {
      const timer = clock.setTimeout(
        () => wake?.(),
        Math.max(0, at - clock.now()),
      );
      wake = () => {
        wake = undefined;
        clock.clearTimeout(timer);
        resolve();
      };
    });

  return {
    description: options.description,
    events: true,
    async next(timeoutMs: number): Promise<WakeReason> {
      const deadline = clock.now() + timeoutMs;
      for (;;) {
        if (failure !== undefined && !signal.aborted) throw failure;
        if (signal.aborted) return "stopped";
        if (burstStart !== undefined) {
          const scanAt = Math.min(
            lastChange + options.debounceMs,
            burstStart + options.maxDelayMs,
          );
          if (scanAt <= clock.now()) {
            burstStart = undefined;
            return "event";
          }
          await waitUntil(scanAt);
          continue;
        }
        if (clock.now() >= deadline) return "timeout";
        await waitUntil(deadline);
      }
    },
    async close() {
      signal.removeEventListener("abort", onAbort);
      await listening;
    },
  };
}
