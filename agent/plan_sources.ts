/**
 * Which sources run: in auto mode those that can work on this machine; in
 * the other modes those the flags enable. Each decision carries its reason.
 *
 * @module
 */
import {
  SOURCE_NAMES,
  SOURCE_WORKERS,
  type SourceName,
} from "../sources/catalog.ts";
import { findLibcPath } from "../support/libc.ts";
import type { AgentOptions } from "./options.ts";

/** The decision for one source. */
export interface SourcePlan {
  /** The source. */
  readonly name: SourceName;
  /** Whether it runs. */
  readonly run: boolean;
  /** Why it runs or not, for the start-up log. */
  readonly reason: string;
  /** The user asked for it explicitly (a flag) but it cannot run. */
  readonly missingButRequested: boolean;
}

/** What detection may look at; the real one touches the file system. */
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

/** A probe of this machine. */
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

async function detect(
  name: SourceName,
  options: AgentOptions,
  probe: MachineProbe,
): Promise<{ ok: boolean; reason: string }> {
  switch (name) {
    case "docker":
      return await probe.exists(options.dockerSocket)
        ? { ok: true, reason: `socket ${options.dockerSocket} exists` }
        : { ok: false, reason: `no socket at ${options.dockerSocket}` };
    case "containerd":
      return await probe.exists(options.containerdSocket)
        ? { ok: true, reason: `socket ${options.containerdSocket} exists` }
        : { ok: false, reason: `no socket at ${options.containerdSocket}` };
    case "kubernetes":
      return await probe.exists(options.kubeconfig)
        ? { ok: true, reason: `kubeconfig ${options.kubeconfig} exists` }
        : { ok: false, reason: `no kubeconfig at ${options.kubeconfig}` };
    case "procnet": {
      if (!await probe.exists("/proc/net/tcp")) {
        return { ok: false, reason: "/proc/net/tcp does not exist" };
      }
      const libc = probe.libcPath();
      return libc
        ? { ok: true, reason: `/proc/net exists; read through ${libc}` }
        : { ok: false, reason: "no libc found to read /proc/net through" };
    }
    case "iptables": {
      if (!probe.isRoot()) return { ok: false, reason: "not running as root" };
      const path = await probe.which("iptables-save");
      return path
        ? { ok: true, reason: `running as root and ${path} exists` }
        : { ok: false, reason: "iptables-save is not installed" };
    }
  }
}

/**
 * Decides which sources run.
 *
 * @param options The agent's options (mode and source switches).
 * @param probe What detection looks at.
 * @returns One plan per known source, in {@linkcode SOURCE_NAMES} order.
 */
export async function planSources(
  options: AgentOptions,
  probe: MachineProbe = systemProbe,
): Promise<SourcePlan[]> {
  const plans: SourcePlan[] = [];
  for (const name of SOURCE_NAMES) {
    const built = SOURCE_WORKERS[name] !== undefined;
    if (!options[name]) {
      plans.push({
        name,
        run: false,
        reason: "switched off",
        missingButRequested: false,
      });
      continue;
    }
    if (options.mode !== "auto") {
      plans.push(
        built
          ? {
            name,
            run: true,
            reason: "enabled by the flags",
            missingButRequested: false,
          }
          : {
            name,
            run: false,
            reason:
              "enabled by the flags, but this build has no worker for it yet",
            missingButRequested: true,
          },
      );
      continue;
    }
    const found = await detect(name, options, probe);
    if (!found.ok) {
      plans.push({
        name,
        run: false,
        reason: found.reason,
        missingButRequested: false,
      });
    } else if (!built) {
      plans.push({
        name,
        run: false,
        reason: `${found.reason}, but this build has no worker for it yet`,
        missingButRequested: false,
      });
    } else {
      plans.push({
        name,
        run: true,
        reason: found.reason,
        missingButRequested: false,
      });
    }
  }
  return plans;
}
