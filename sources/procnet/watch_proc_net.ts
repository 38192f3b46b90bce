/**
 * The /proc/net source's watcher: scans the socket tables at an interval
 * and emits a snapshot when the confirmed set changes.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import { Libc } from "../../support/libc.ts";
import {
  bindingKey,
  type PortEntry,
  type Protocol,
} from "../../tracker/binding.ts";
import type { SourceMessageBody } from "../worker_runtime.ts";
import { confirmedKeys } from "./confirm_ports.ts";
import { isPublishing, parseProcNet } from "./parse_proc_net.ts";

/** Configuration of the /proc/net source. */
export interface ProcNetConfig {
  /** Folder holding tcp, tcp6, udp, udp6. @default "/proc/net" */
  readonly root: string;
  /** Time between scans, in ms. @default 1000 */
  readonly intervalMs: number;
  /** Host ports never to publish (e.g. 22). @default [] */
  readonly ignorePorts: readonly number[];
  /** Read through this libc (Deno refuses /proc/net without --allow-all). @default Deno's own read */
  readonly libcPath?: string;
}

/** The tables the source reads, with their protocol. */
export const PROC_NET_TABLES: readonly (readonly [string, Protocol])[] = [
  ["tcp", "tcp"],
  ["tcp6", "tcp"],
  ["udp", "udp"],
  ["udp6", "udp"],
];

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a field has the wrong type.
 */
export function parseProcNetConfig(
  raw: Readonly<Record<string, unknown>>,
): ProcNetConfig {
  const root = raw.root ?? "/proc/net";
  const intervalMs = raw.intervalMs ?? 1000;
  const ignorePorts = raw.ignorePorts ?? [];
  if (typeof root !== "string" || !root.startsWith("/")) {
    throw new TypeError(
      "Cannot configure procnet: root must be an absolute path",
    );
  }
  if (typeof intervalMs !== "number" || !(intervalMs >= 10)) {
    throw new TypeError(
      "Cannot configure procnet: intervalMs must be at least 10",
    );
  }
  if (!Array.isArray(ignorePorts) || !ignorePorts.every(Number.isInteger)) {
    throw new TypeError(
      "Cannot configure procnet: ignorePorts must be port numbers",
    );
  }
  const libcPath = raw.libcPath;
  if (
    libcPath !== undefined &&
    (typeof libcPath !== "string" || !libcPath.startsWith("/"))
  ) {
    throw new TypeError(
      "Cannot configure procnet: libcPath must be an absolute path",
    );
  }
  return libcPath === undefined
    ? { root, intervalMs, ignorePorts }
    : { root, intervalMs, ignorePorts, libcPath };
}

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
    for (const socket of parsed.sockets) {
      if (!isPublishing(socket) || ignored.has(socket.binding.hostPort)) {
        continue;
      }
      const key = bindingKey(socket.binding);
      entries.set(key, { ownerId: key, binding: socket.binding });
    }
  }
  return { entries, tablesRead, problems };
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
  const libc = config.libcPath ? new Libc(config.libcPath) : undefined;
  const decoder = new TextDecoder();
  const readFile = options.readFile ??
    (libc
      ? (path: string) => Promise.resolve(decoder.decode(libc.readFile(path)))
      : (path: string) => Deno.readTextFile(path));
  const clock = options.clock ?? systemClock;
  try {
    await scanUntilAborted(config, emit, signal, readFile, clock);
  } finally {
    libc?.close();
  }
}

async function scanUntilAborted(
  config: ProcNetConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  readFile: (path: string) => Promise<string>,
  clock: Clock,
): Promise<void> {
  const logger = getLogger(["guest-agent", "source", "procnet"]);
  let seen = new Set<string>();
  let published: Set<string> | undefined;
  let state: "connected" | "waiting" | undefined;
  let lastProblems = "";
  while (!signal.aborted) {
    const scan = await scanProcNet(config, readFile);
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
