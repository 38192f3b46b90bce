/**
 * The reconnect loop every event source shares: run a session (subscribe,
 * snapshot, apply events) until it breaks, report the state once per change,
 * wait with capped backoff, start over with a fresh snapshot.
 *
 * @module
 */
import { backoffDelay } from "../../support/backoff.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import type { SourceState } from "../messages.ts";
import type { SourceMessageBody } from "./worker_runtime.ts";

/**
 * One connection's life. Calls `connected()` once its snapshot is sent
 * (`connected()` returns true the first time ever); returns or throws when
 * the connection is lost.
 */
export type Session = (connected: () => boolean) => Promise<void>;

/** Options of {@linkcode keepConnected}. */
export interface KeepConnectedOptions {
  /** Time source of the backoff sleeps. @default systemClock */
  readonly clock?: Clock;
  /** First retry delay in ms. @default 250 */
  readonly initialMs?: number;
  /** Largest retry delay in ms. @default 10000 */
  readonly maxMs?: number;
}

/**
 * Runs `session` until `signal` aborts. Before the first connection a
 * failure reports "waiting", after it "reconnecting", each with the reason
 * `<target>: <error>`; "connected" once a session has sent its snapshot.
 * A state is emitted only when it (or its reason) changes.
 *
 * @param target What is connected to, for the reason (a socket path).
 * @param session One connection's life.
 * @param emit Receives the status messages.
 * @param signal Ends the loop.
 * @param options Clock and backoff.
 */
export async function keepConnected(
  target: string,
  session: Session,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: KeepConnectedOptions = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const report = statusReporter(emit);
  let attempt = 0;
  const connected = () => {
    attempt = 0;
    return report.connected();
  };
  while (!signal.aborted) {
    try {
      await session(connected);
      throw new Error("Cannot go on: the connection ended");
    } catch (error) {
      if (signal.aborted) return;
      report.failed(`${target}: ${(error as Error).message}`);
      await sleep(
        clock,
        backoffDelay(attempt++, {
          initialMs: options.initialMs ?? 250,
          maxMs: options.maxMs ?? 10_000,
        }),
        signal,
      ).catch(() => {});
    }
  }
}

/** The states a source reports, each once per change (see statusReporter). */
export interface StatusReporter {
  /**
   * The source reads its engine (or what it scans) now.
   *
   * @param reason How, when worth saying (what wakes a scan).
   * @returns Whether this is the first time ever.
   */
  connected(reason?: string): boolean;
  /** It cannot: "waiting" before the first connection, then "reconnecting". */
  failed(reason: string): void;
}

/**
 * The connected / waiting / reconnecting states every source shares: a
 * status message only when the state or its reason changes.
 *
 * @param emit Receives the status messages.
 */
export function statusReporter(
  emit: (message: SourceMessageBody) => void,
): StatusReporter {
  let everConnected = false;
  let last = "";
  const status = (state: SourceState, reason?: string) => {
    const key = `${state}:${reason ?? ""}`;
    if (key === last) return;
    last = key;
    emit(
      reason === undefined
        ? { type: "status", state }
        : { type: "status", state, reason },
    );
  };
  return {
    connected(reason) {
      status("connected", reason);
      const first = !everConnected;
      everConnected = true;
      return first;
    },
    failed(reason) {
      status(everConnected ? "reconnecting" : "waiting", reason);
    },
  };
}
