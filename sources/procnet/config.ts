/**
 * The /proc/net worker's configuration: the type the main thread sends
 * (sources/procnet/source.ts) and the check the worker reads it back with.
 *
 * @module
 */

/** Where the kernel shows this network namespace's sockets. */
export const PROC_NET_ROOT = "/proc/net";

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

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a field has the wrong type.
 */
export function parseProcNetConfig(
  raw: Readonly<Record<string, unknown>>,
): ProcNetConfig {
  const root = raw.root ?? PROC_NET_ROOT;
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
