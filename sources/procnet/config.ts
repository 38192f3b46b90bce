/**
 * The /proc/net worker's configuration: the type the main thread sends
 * (sources/procnet/source.ts) and the check the worker reads it back with.
 *
 * @module
 */
import { configPath } from "../../support/config_path.ts";

/** Where the kernel shows this network namespace's sockets. */
export const PROC_NET_ROOT = "/proc/net";

/** The default safety-net rescan interval with kernel events, in ms. */
export const PROCNET_RESCAN_MS = 30_000;
/** The default confirmation time of a new socket, in ms. */
export const PROCNET_CONFIRM_MS = 25;
/** The default settle time after a kernel event, in ms. */
export const PROCNET_SETTLE_MS = 5;

/** Configuration of the /proc/net source. */
export interface ProcNetConfig {
  /** Folder holding tcp, tcp6, udp, udp6. @default "/proc/net" */
  readonly root: string;
  /** Time between scans when polling (no kernel events), in ms. @default 1000 */
  readonly intervalMs: number;
  /** Wake the scan on kernel tracepoint events when they can be had. @default true */
  readonly events?: boolean;
  /** With kernel events: the safety-net full rescan interval, in ms. @default 30000 */
  readonly rescanMs?: number;
  /** A socket is published once seen this long (two scans apart), in ms. @default 25 */
  readonly confirmMs?: number;
  /** After a kernel event, wait this long for the rest of its burst, in ms. @default 5 */
  readonly settleMs?: number;
  /** Host ports never to publish (e.g. 22). @default [] */
  readonly ignorePorts: readonly number[];
  /** Read through this libc (Deno refuses /proc/net without --allow-all). @default Deno's own read */
  readonly libcPath?: string;
}

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a field has the wrong type.
 */
export function parseProcNetConfig(
  raw: Readonly<Record<string, unknown>>,
): ProcNetConfig {
  const root = configPath(raw.root ?? PROC_NET_ROOT, "procnet", "root");
  const intervalMs = raw.intervalMs ?? 1000;
  const ignorePorts = raw.ignorePorts ?? [];
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
  for (const field of ["rescanMs", "confirmMs", "settleMs"] as const) {
    const value = raw[field];
    if (
      value !== undefined &&
      (typeof value !== "number" || !(value >= 1 && value <= 86_400_000))
    ) {
      throw new TypeError(
        `Cannot configure procnet: ${field} must be a time in ms from 1 to 86400000`,
      );
    }
  }
  if (raw.events !== undefined && typeof raw.events !== "boolean") {
    throw new TypeError("Cannot configure procnet: events must be a boolean");
  }
  const libcPath = raw.libcPath === undefined
    ? undefined
    : configPath(raw.libcPath, "procnet", "libcPath");
  return {
    root,
    intervalMs,
    ignorePorts,
    events: (raw.events as boolean | undefined) ?? true,
    rescanMs: (raw.rescanMs as number | undefined) ?? PROCNET_RESCAN_MS,
    confirmMs: (raw.confirmMs as number | undefined) ?? PROCNET_CONFIRM_MS,
    settleMs: (raw.settleMs as number | undefined) ?? PROCNET_SETTLE_MS,
    ...(libcPath === undefined ? {} : { libcPath }),
  };
}
