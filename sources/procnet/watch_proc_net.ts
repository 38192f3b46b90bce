/**
 * The /proc/net source's watcher: scans the socket tables at an interval
 * and emits a snapshot when the confirmed set changes.
 *
 * @module
 */
import { PROC_NET_ROOT, type ProcNetConfig } from "./config.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import { Libc } from "../../support/libc.ts";
import {
  bindingKey,
  type PortEntry,
  type Protocol,
} from "../../tracker/binding.ts";
import type { SourceMessageBody } from "../worker_runtime.ts";
import { confirmedKeys } from "./confirm_ports.ts";
import {
  isPublishing,
  parseProcNet,
  type ProcNetSocket,
} from "../../support/parse_proc_net.ts";
import { DIAG_QUERIES, SockDiag } from "../../support/sock_diag.ts";
import { sourceLogger } from "../source_log.ts";

/** The real /proc/net: the only root netlink diagnostics stand in for. */
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
 * Scans until `signal` aborts. A port is published once seen in two scans
 * in a row and dropped in the first scan that misses it; a snapshot is
 * emitted whenever the published set changes (and after the first scan).
 *
 * @param config The source's configuration.
 * @param emit Receives snapshot and status messages.
 * @param signal Ends the watch.
 * @param options File reader and clock, for tests.
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
  // netlink socket diagnostics first (cheap); /proc/net when refused.
  let diag = options.readFile === undefined && libc &&
      config.root === PROC_NET_ROOT
    ? new SockDiag(libc)
    : undefined;
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
  try {
    await scanUntilAborted(config, emit, signal, scan, clock);
  } finally {
    diag?.close();
    libc?.close();
  }
}

async function scanUntilAborted(
  config: ProcNetConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  scanOnce: () => Promise<ProcNetScan>,
  clock: Clock,
): Promise<void> {
  const logger = sourceLogger("procnet");
  let seen = new Set<string>();
  let published: Set<string> | undefined;
  let state: "connected" | "waiting" | undefined;
  let lastProblems = "";
  while (!signal.aborted) {
    const scan = await scanOnce();
    const problems = scan.problems.join("; ");
    if (problems !== lastProblems && problems !== "") {
      logger.warn("procnet: {problems}", { problems });
    }
    lastProblems = problems;
    const nextState = scan.tablesRead > 0 ? "connected" : "waiting";
    if (nextState !== state) {
      state = nextState;
      emit(
        state === "connected" ? { type: "status", state } : {
          type: "status",
          state,
          reason: `cannot read ${config.root}: ${problems}`,
        },
      );
    }
    const current = new Set(scan.entries.keys());
    const confirmed = confirmedKeys(seen, current);
    seen = current;
    if (published === undefined || !sameKeys(published, confirmed)) {
      published = confirmed;
      emit({
        type: "snapshot",
        entries: [...confirmed].map((key) => scan.entries.get(key)!),
      });
      logger.debug("procnet: {count} listening ports", {
        count: confirmed.size,
      });
    }
    try {
      await sleep(clock, config.intervalMs, signal);
    } catch {
      return;
    }
  }
}
