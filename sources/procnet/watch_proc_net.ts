/**
 * The /proc/net source's watcher: scans the socket tables when the kernel
 * says a listening socket appeared or went (sources/procnet/listen_events.ts)
 * or, without that, at an interval; emits a snapshot when the confirmed set
 * changes.
 *
 * @module
 */
import {
  pollingTrigger,
  rescanUntilAborted,
  type ScanTrigger,
} from "../worker/rescan_loop.ts";
import {
  PROC_NET_ROOT,
  PROCNET_CONFIRM_MS,
  PROCNET_RESCAN_MS,
  PROCNET_SETTLE_MS,
  type ProcNetConfig,
} from "./config.ts";
import { type Clock, systemClock } from "../../support/clock.ts";
import { Libc } from "../../support/libc.ts";
import {
  bindingKey,
  type PortEntry,
  type Protocol,
} from "../../binding/binding.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { confirmScan, type Sightings } from "./confirm_ports.ts";
import { tracepointTrigger } from "./listen_events.ts";
import {
  isPublishing,
  parseProcNet,
  type ProcNetSocket,
} from "../../support/parse_proc_net.ts";
import { DIAG_QUERIES, SockDiag } from "../../support/sock_diag.ts";
import { sourceLogger } from "../source_log.ts";

/** The tables the source reads, with their protocol. */
export const PROC_NET_TABLES: readonly (readonly [string, Protocol])[] = [
  ["tcp", "tcp"],
  ["tcp6", "tcp"],
  ["udp", "udp"],
  ["udp6", "udp"],
];

/** Options of {@linkcode watchProcNet}. */
export interface WatchProcNetOptions {
  /** Reads one file. @default libc when `config.libcPath` is set, else Deno.readTextFile */
  readonly readFile?: (path: string) => Promise<string>;
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /** What wakes the scan. @default kernel tracepoints, else polling */
  readonly trigger?: ScanTrigger;
}

/** The result of one scan: publishing entries by key, and what failed. */
export interface ProcNetScan {
  /** Entries by binding key. */
  readonly entries: Map<string, PortEntry>;
  /** Tables that could be read. */
  readonly tablesRead: number;
  /** Problems, each naming its table. */
  readonly problems: string[];
}

/** Adds the publishing, not ignored sockets to `entries`. */
function collect(
  sockets: readonly ProcNetSocket[],
  ignored: ReadonlySet<number>,
  entries: Map<string, PortEntry>,
): void {
  for (const socket of sockets) {
    if (!isPublishing(socket) || ignored.has(socket.binding.hostPort)) {
      continue;
    }
    const key = bindingKey(socket.binding);
    entries.set(key, { ownerId: key, binding: socket.binding });
  }
}

/**
 * Reads every table once and returns the publishing sockets.
 *
 * @param config Root and ignored ports.
 * @param readFile Reads one file.
 */
export async function scanProcNet(
  config: ProcNetConfig,
  readFile: (path: string) => Promise<string>,
): Promise<ProcNetScan> {
  const entries = new Map<string, PortEntry>();
  const problems: string[] = [];
  let tablesRead = 0;
  const ignored = new Set(config.ignorePorts);
  for (const [table, protocol] of PROC_NET_TABLES) {
    const path = `${config.root}/${table}`;
    let text: string;
    try {
      text = await readFile(path);
    } catch (error) {
      // tcp6/udp6 are absent when IPv6 is off: not a problem.
      if (!(error instanceof Deno.errors.NotFound)) {
        problems.push(`${path}: ${(error as Error).message}`);
      }
      continue;
    }
    tablesRead++;
    const parsed = parseProcNet(text, protocol);
    for (const problem of parsed.errors.slice(0, 3)) {
      problems.push(`${path}: ${problem}`);
    }
    collect(parsed.sockets, ignored, entries);
  }
  return { entries, tablesRead, problems };
}

/**
 * The same scan through netlink socket diagnostics: only listening TCP and
 * unconnected UDP sockets, without walking every connection.
 *
 * @param config Ignored ports.
 * @param diag The netlink dumper.
 * @throws {Error} When netlink refuses (the caller falls back to /proc/net).
 */
export function scanSockDiag(
  config: ProcNetConfig,
  diag: Pick<SockDiag, "dump">,
): ProcNetScan {
  const entries = new Map<string, PortEntry>();
  const ignored = new Set(config.ignorePorts);
  for (const query of DIAG_QUERIES) {
    collect(diag.dump(query), ignored, entries);
  }
  return { entries, tablesRead: DIAG_QUERIES.length, problems: [] };
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((key) => b.has(key));
}

/**
 * The trigger of this run: kernel tracepoints when the source reads the
 * real /proc/net through libc and they can be opened, else polling; with
 * the reason either way.
 */
function chooseTrigger(
  config: ProcNetConfig,
  libc: Libc | undefined,
  real: boolean,
  clock: Clock,
  signal: AbortSignal,
): ScanTrigger {
  const polling = (why: string) =>
    pollingTrigger(
      clock,
      signal,
      `polling every ${config.intervalMs} ms: ${why}`,
    );
  if (config.events === false) return polling("kernel events are off");
  if (!real) return polling(`${config.root} is not the kernel's`);
  if (libc === undefined) return polling("no libc for kernel events");
  try {
    return tracepointTrigger(libc, clock, signal, {
      settleMs: config.settleMs ?? PROCNET_SETTLE_MS,
      rescanMs: config.rescanMs ?? PROCNET_RESCAN_MS,
    });
  } catch (error) {
    return polling(`no kernel tracepoints (${(error as Error).message})`);
  }
}

/**
 * Scans until `signal` aborts, when the trigger says: on kernel events
 * (debounced) with a slow safety-net rescan, or at the polling interval. A
 * port is published once seen for `confirmMs` (a second scan checks it
 * then) and dropped in the first scan that misses it; a snapshot is emitted
 * whenever the published set changes (and after the first scan).
 *
 * @param config The source's configuration.
 * @param emit Receives snapshot and status messages.
 * @param signal Ends the watch.
 * @param options File reader, clock and trigger, for tests.
 */
export async function watchProcNet(
  config: ProcNetConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: WatchProcNetOptions = {},
): Promise<void> {
  const logger = sourceLogger("procnet");
  const libc = config.libcPath ? new Libc(config.libcPath) : undefined;
  const decoder = new TextDecoder();
  const readFile = options.readFile ??
    (libc
      ? (path: string) => Promise.resolve(decoder.decode(libc.readFile(path)))
      : (path: string) => Deno.readTextFile(path));
  const clock = options.clock ?? systemClock;
  const real = options.readFile === undefined && config.root === PROC_NET_ROOT;
  // netlink socket diagnostics first (cheap); /proc/net when refused.
  let diag = real && libc ? new SockDiag(libc) : undefined;
  const scan = async () => {
    if (diag !== undefined) {
      try {
        return scanSockDiag(config, diag);
      } catch (error) {
        logger.warn(
          "procnet: netlink socket diagnostics failed ({error}); reading {root} instead",
          { error: (error as Error).message, root: config.root },
        );
        diag.close();
        diag = undefined;
      }
    }
    return await scanProcNet(config, readFile);
  };
  const trigger = options.trigger ??
    chooseTrigger(config, libc, real, clock, signal);
  let lastProblems = "";
  const scanOrThrow = async () => {
    const result = await scan();
    const problems = result.problems.join("; ");
    if (result.tablesRead === 0) {
      throw new Error(
        `Cannot read ${config.root}: ${
          problems || "none of its tables is there"
        }`,
      );
    }
    if (problems !== lastProblems && problems !== "") {
      logger.warn("procnet: {problems}", { problems });
    }
    lastProblems = problems;
    return result;
  };
  try {
    await rescanUntilAborted({
      logger,
      name: "procnet",
      clock,
      signal,
      emit,
      trigger,
      eventsName: "kernel events",
      pollMs: config.intervalMs,
      resyncMs: config.rescanMs ?? PROCNET_RESCAN_MS,
      scan: scanOrThrow,
      publish: confirmedPublisher(config, emit),
    });
  } finally {
    diag?.close();
    libc?.close();
  }
}

/** Publishes what stayed for `confirmMs` (sources/procnet/confirm_ports.ts). */
function confirmedPublisher(
  config: ProcNetConfig,
  emit: (message: SourceMessageBody) => void,
): (scan: ProcNetScan, endedAt: number) => number | undefined {
  const logger = sourceLogger("procnet");
  const confirmMs = config.confirmMs ?? PROCNET_CONFIRM_MS;
  let sightings: Sightings = new Map();
  let published: Set<string> | undefined;
  return (scan, endedAt) => {
    const result = confirmScan(
      sightings,
      scan.entries.keys(),
      endedAt,
      confirmMs,
    );
    sightings = result.sightings;
    if (published === undefined || !sameKeys(published, result.confirmed)) {
      published = result.confirmed;
      emit({
        type: "snapshot",
        entries: [...published].map((key) => scan.entries.get(key)!),
      });
      logger.debug("procnet: {count} listening ports", {
        count: published.size,
      });
    }
    return result.confirmAt;
  };
}
