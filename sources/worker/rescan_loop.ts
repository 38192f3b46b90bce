/**
 * The loop of the sources that scan (iptables, /proc/net): what wakes a
 * scan, how scans are spaced, how a failing scan backs off, and which state
 * the source reports, stated once. Each source brings only what is its own:
 * what to read (`scan`), what to make of it (`publish`), and what wakes it
 * (a {@linkcode ScanTrigger}: kernel events, change notifications, or a
 * timer).
 *
 * @module
 */
import { backoffDelay } from "../../support/backoff.ts";
import { type Clock, sleptUnlessAborted } from "../../support/clock.ts";
import { ScanPacing } from "./scan_pacing.ts";
import { statusReporter } from "./keep_connected.ts";
import type { SourceMessageBody } from "./worker_runtime.ts";
import type { SourceLogger } from "../source_log.ts";

/** What ended one wait for the next scan. */
export type WakeReason = "event" | "timeout" | "stopped";

/** Tells the loop when to scan. */
export interface ScanTrigger {
  /** For `status` and the start log: what wakes the scan. */
  readonly description: string;
  /** Whether events wake it (else only the loop's timeout paces it). */
  readonly events: boolean;
  /**
   * Waits for an event (and the rest of its burst), `timeoutMs`, or the
   * stop.
   *
   * @throws {Error} When the events fail (the loop falls back to polling).
   */
  next(timeoutMs: number): Promise<WakeReason>;
  /** Releases what it holds; called once, when no `next` is pending. */
  close(): void | Promise<void>;
}

/** A trigger that only waits for its timeout: polling. */
export function pollingTrigger(
  clock: Clock,
  signal: AbortSignal,
  description: string,
): ScanTrigger {
  return {
    description,
    events: false,
    async next(timeoutMs) {
      return await sleptUnlessAborted(clock, timeoutMs, signal)
        ? "timeout"
        : "stopped";
    },
    close() {},
  };
}

/** One scanning source's part of the loop. */
export interface RescanLoop<T> {
  /** Where records go (the source's logger). */
  readonly logger: SourceLogger;
  /** The source's name, first in its log lines. */
  readonly name: string;
  /** Time source of every wait. */
  readonly clock: Clock;
  /** Ends the loop. */
  readonly signal: AbortSignal;
  /** Receives the status messages (`publish` sends the snapshots). */
  readonly emit: (message: SourceMessageBody) => void;
  /** What wakes the first scans. */
  readonly trigger: ScanTrigger;
  /** What the events are called, for the fallback's reason ("kernel events"). */
  readonly eventsName: string;
  /** Without events: from one scan's start to the next, in ms. */
  readonly pollMs: number;
  /** With events: the safety-net rescan, from one scan's start, in ms. */
  readonly resyncMs: number;
  /**
   * Reads once. A throw means nothing could be read: the source reports
   * waiting or reconnecting with the message and the loop backs off; what
   * was published stays.
   */
  readonly scan: () => Promise<T>;
  /**
   * Makes a scan's result known (a snapshot when it changed).
   *
   * @param result What `scan` returned.
   * @param endedAt When the scan ended, on `clock`.
   * @returns When the next scan is due sooner than the trigger's wait
   *   would bring it (a time on `clock`), or undefined.
   */
  readonly publish: (result: T, endedAt: number) => number | undefined;
}

/** Backoff between failing scans: 250 ms doubling to 10 s. */
const FAILURE_BACKOFF = { initialMs: 250, maxMs: 10_000 } as const;

/**
 * Scans until `loop.signal` aborts: a scan at once, then whenever the
 * trigger wakes (an event, the poll interval, the safety net, or an earlier
 * time `publish` asked for); never sooner than the pacing rule allows
 * (sources/worker/scan_pacing.ts). Reports "connected" with the trigger's
 * description after a scan that read something, "waiting" (before the
 * first) or "reconnecting" with the failure, each once per change. When the
 * trigger's events fail it is closed and polling takes over, said in the
 * log and the status.
 */
export async function rescanUntilAborted<T>(
  loop: RescanLoop<T>,
): Promise<void> {
  const { clock, signal, logger, name } = loop;
  const report = statusReporter(loop.emit);
  const pacing = new ScanPacing(clock);
  let trigger = loop.trigger;
  let failures = 0;
  logger.info("{name}: {how}", { name, how: trigger.description });
  try {
    while (!signal.aborted) {
      const spacing = pacing.delayMs();
      if (spacing > 0 && !await sleptUnlessAborted(clock, spacing, signal)) {
        return;
      }
      pacing.started();
      let dueAt: number | undefined;
      try {
        const result = await loop.scan();
        if (signal.aborted) return;
        const endedAt = pacing.ended();
        failures = 0;
        report.connected(trigger.description);
        dueAt = loop.publish(result, endedAt);
      } catch (error) {
        if (signal.aborted) return;
        pacing.ended();
        report.failed((error as Error).message);
        const delay = backoffDelay(failures++, FAILURE_BACKOFF);
        if (!await sleptUnlessAborted(clock, delay, signal)) return;
        continue;
      }
      const interval = trigger.events ? loop.resyncMs : loop.pollMs;
      const wakeAt = Math.min(
        pacing.lastStartedAt + interval,
        dueAt ?? Infinity,
      );
      try {
        const woke = await trigger.next(Math.max(0, wakeAt - clock.now()));
        if (woke === "stopped") return;
      } catch (error) {
        await trigger.close();
        trigger = pollingTrigger(
          clock,
          signal,
          `polling every ${loop.pollMs} ms: ${loop.eventsName} failed (${
            (error as Error).message
          })`,
        );
        logger.warn("{name}: {how}", { name, how: trigger.description });
      }
    }
  } finally {
    await trigger.close();
  }
}
