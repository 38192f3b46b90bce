/**
 * What wakes the /proc/net source's scan: the kernel's tracepoints when
 * they can be had (a listening TCP socket appeared or closed; a bind
 * succeeded, for UDP); polling is sources/worker/rescan_loop.ts. See docs/protocols.md, "/proc/net".
 *
 * @module
 */
import { type Clock, sleptUnlessAborted } from "../../support/clock.ts";
import type { ScanTrigger } from "../worker/rescan_loop.ts";
import { KernelWait } from "../../support/kernel_wait.ts";
import type { Libc } from "../../support/libc.ts";
import {
  findTracefs,
  type OpenTracepoint,
  openTracepoint,
  TRACEFS_ROOTS,
  TracepointUnavailable,
} from "../../support/perf_tracepoints.ts";

/** TCP_LISTEN in the kernel's TCP state numbers. */
const TCP_LISTEN = 10;
/** TCP_CLOSE. */
const TCP_CLOSE = 7;

/**
 * A TCP socket started listening, or a listener closed. A connection
 * accepted from a listener also leaves TCP_LISTEN (its child socket is
 * cloned in that state, then set to SYN_RECV): the filter keeps those out,
 * so a busy server does not wake the source.
 */
export const LISTEN_TRACEPOINT = {
  name: "sock/inet_sock_set_state",
  filter:
    `newstate == ${TCP_LISTEN} || (oldstate == ${TCP_LISTEN} && newstate == ${TCP_CLOSE})`,
} as const;

/** A bind(2) succeeded: how a UDP socket starts to receive. */
export const BIND_TRACEPOINT = {
  name: "syscalls/sys_exit_bind",
  filter: "ret == 0",
} as const;

/** Options of {@linkcode tracepointTrigger}. */
export interface TracepointTriggerOptions {
  /** After an event, wait this long for the rest of its burst. */
  readonly settleMs: number;
  /** The safety-net rescan interval, for the description. */
  readonly rescanMs: number;
  /** Where tracefs may be mounted. @default TRACEFS_ROOTS */
  readonly tracefsRoots?: readonly string[];
}

/**
 * Opens the tracepoints on every CPU; the trigger then wakes on the first
 * hit and returns `settleMs` later (a burst of listeners is one scan).
 *
 * @throws {TracepointUnavailable} With the reason for people, when tracefs
 *   is not mounted, the kernel lacks the TCP tracepoint or refuses it.
 */
export function tracepointTrigger(
  libc: Libc,
  clock: Clock,
  signal: AbortSignal,
  options: TracepointTriggerOptions,
): ScanTrigger {
  const roots = options.tracefsRoots ?? TRACEFS_ROOTS;
  const tracefs = findTracefs(libc, roots);
  if (tracefs === undefined) {
    throw new TracepointUnavailable(
      `tracefs is not mounted at ${roots.join(" or ")}`,
    );
  }
  const opened: OpenTracepoint[] = [
    openTracepoint(libc, tracefs, LISTEN_TRACEPOINT),
  ];
  let udp = "UDP binds";
  try {
    opened.push(openTracepoint(libc, tracefs, BIND_TRACEPOINT));
  } catch (error) {
    udp = `not UDP binds (${
      (error as Error).message
    }: they wait for the rescan)`;
  }
  let wait: KernelWait;
  try {
    wait = new KernelWait(libc, signal);
  } catch (error) {
    for (const tracepoint of opened) tracepoint.close();
    throw new TracepointUnavailable((error as Error).message);
  }
  const fds = opened.flatMap((tracepoint) => tracepoint.fds);
  return {
    description:
      `woken by kernel tracepoints (TCP listen and close, ${udp}; ${tracefs}); safety-net rescan every ${
        Math.round(options.rescanMs / 1000)
      } s`,
    events: true,
    async next(timeoutMs) {
      const result = await wait.wait(fds, timeoutMs);
      if (result.kind !== "ready") return result.kind;
      if (result.failed.length > 0) {
        throw new Error(
          `Cannot wait for kernel events: the perf event descriptors failed (${result.failed.length} of ${fds.length})`,
        );
      }
      if (!await sleptUnlessAborted(clock, options.settleMs, signal)) {
        return "stopped";
      }
      // Hits during the settle time are covered by the coming scan: take
      // their wake-ups now so they do not cause a second one.
      const drained = await wait.wait(fds, 0);
      return drained.kind === "stopped" ? "stopped" : "event";
    },
    close() {
      wait.close();
      for (const tracepoint of opened) tracepoint.close();
    },
  };
}
