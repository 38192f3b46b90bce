/**
 * What auto-mode detection and the worker grants may look at on this
 * machine; tests give a probe of their own.
 *
 * @module
 */
import { findLibcPath } from "../support/libc.ts";

/**
 * What detection may look at; the real one touches the file system.
 *
 * @example Usage
 * ```ts
 * import type { MachineProbe } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * // A machine where only Docker's socket exists, for planning in tests.
 * const probe: MachineProbe = {
 *   exists: (path) => Promise.resolve(path === "/var/run/docker.sock"),
 *   isRoot: () => false,
 *   which: () => Promise.resolve(undefined),
 *   libcPath: () => undefined,
 * };
 * assert.equal(await probe.exists("/var/run/docker.sock"), true);
 * ```
 */
export interface MachineProbe {
  /** Whether `path` exists (a socket, a file). */
  exists(path: string): Promise<boolean>;
  /** Whether the agent runs as root. */
  isRoot(): boolean;
  /** The absolute path of an executable on PATH, if any. */
  which(name: string): Promise<string | undefined>;
  /** The absolute path of libc, if found. */
  libcPath(): string | undefined;
}

/**
 * A probe of this machine.
 *
 * @example Usage
 * ```ts
 * import { systemProbe } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await systemProbe.exists("/"), true);
 * ```
 */
export const systemProbe: MachineProbe = {
  async exists(path) {
    try {
      await Deno.lstat(path);
      return true;
    } catch {
      return false;
    }
  },
  isRoot: () => Deno.uid() === 0,
  libcPath: () => findLibcPath(),
  async which(name) {
    const dirs = (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
      .split(":");
    for (const dir of [...dirs, "/usr/sbin", "/sbin"]) {
      try {
        const info = await Deno.stat(`${dir}/${name}`);
        if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
          return `${dir}/${name}`;
        }
      } catch { /* next */ }
    }
    return undefined;
  },
};
