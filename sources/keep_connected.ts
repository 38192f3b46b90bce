/**
 * The reconnect loop every event source shares: run a session (subscribe,
 * snapshot, apply events) until it breaks, report the state once per change,
 * wait with capped backoff, start over with a fresh snapshot.
 *
 * @module
 */
import { backoffDelay } from "../support/backoff.ts";
import { type Clock, sleep, systemClock } from "../support/clock.ts";
import type { SourceState } from "./messages.ts";
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
  let everConnected = false;
  let lastStatus = "";
  let attempt = 0;
  const status = (state: SourceState, reason?: string) => {
    const key = `${state}:${reason ?? ""}`;
    if (key === lastStatus) return;
    lastStatus = key;
    emit(
      reason === undefined
        ? { type: "status", state }
        : { type: "status", state, reason },
    );
  };
  const connected = () => {
    status("connected");
    attempt = 0;
    const first = !everConnected;
    everConnected = true;
    return first;
  };
  while (!signal.aborted) {
    try {
      await session(connected);
      throw new Error("the connection ended");
    } catch (error) {
      if (signal.aborted) return;
      status(
        everConnected ? "reconnecting" : "waiting",
        `${target}: ${(error as Error).message}`,
      );
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
