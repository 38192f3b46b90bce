/**
 * Kernel events for the /proc/net source out of the box: its perf
 * tracepoints need tracefs, which many VM distributions (Rancher Desktop's
 * Alpine among them) do not mount. Run as root with the source's kernel
 * events on (`--procnet-events`, the default), the agent mounts tracefs at
 * /sys/kernel/tracing before the source starts; `--no-procnet-events`
 * mounts nothing. The program does this (main.ts), never the library
 * (`startAgent` has no such side effect). See docs/architecture.md, "How
 * the /proc/net source knows when to scan".
 *
 * @module
 */
import { TRACEFS_ROOTS } from "../../../support/perf_tracepoints.ts";
import { runCommand } from "../../../support/run_command.ts";

/** Where the agent mounts tracefs. */
export const TRACEFS_MOUNT_POINT = "/sys/kernel/tracing";

/** What {@linkcode mountTracefs} did. */
export type TracefsOutcome =
  | { readonly kind: "not wanted" }
  | { readonly kind: "mounted already"; readonly root: string }
  | { readonly kind: "mounted"; readonly root: string }
  | { readonly kind: "cannot"; readonly reason: string };

/** What {@linkcode mountTracefs} needs from the machine (tests fake it). */
export interface TracefsMachine {
  /** Whether the agent runs as root. */
  isRoot(): boolean;
  /** Whether `path` exists. */
  exists(path: string): Promise<boolean>;
  /** Runs `mount` with `args`; resolves with its exit code and stderr. */
  mount(args: readonly string[]): Promise<{ code: number; stderr: string }>;
}

/** This machine. */
export const THIS_MACHINE: TracefsMachine = {
  isRoot: () => Deno.uid() === 0,
  exists: (path) =>
    Deno.stat(path).then(() => true, (error) => {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }),
  mount: (args) => runCommand("mount", args),
};

/**
 * Mounts tracefs at /sys/kernel/tracing when the /proc/net source will want
 * kernel events and none is mounted.
 *
 * @param wanted The /proc/net source runs with kernel events on.
 * @param machine The machine (this one by default).
 * @returns What was found or done, with the reason when it could not.
 */
export async function mountTracefs(
  wanted: boolean,
  machine: TracefsMachine = THIS_MACHINE,
): Promise<TracefsOutcome> {
  if (!wanted) return { kind: "not wanted" };
  for (const root of TRACEFS_ROOTS) {
    if (await machine.exists(`${root}/events/header_page`)) {
      return { kind: "mounted already", root };
    }
  }
  if (!machine.isRoot()) {
    return { kind: "cannot", reason: "only root can mount tracefs" };
  }
  if (!await machine.exists(TRACEFS_MOUNT_POINT)) {
    return {
      kind: "cannot",
      reason:
        `${TRACEFS_MOUNT_POINT} does not exist (no tracefs in this kernel?)`,
    };
  }
  let result: { code: number; stderr: string };
  try {
    result = await machine.mount([
      "-t",
      "tracefs",
      "nodev",
      TRACEFS_MOUNT_POINT,
    ]);
  } catch (error) {
    return {
      kind: "cannot",
      reason: `cannot run mount: ${(error as Error).message}`,
    };
  }
  if (result.code !== 0) {
    return {
      kind: "cannot",
      reason: `mount -t tracefs exited ${result.code}: ${
        result.stderr.trim().slice(0, 200) || "no message"
      }`,
    };
  }
  if (!await machine.exists(`${TRACEFS_MOUNT_POINT}/events/header_page`)) {
    return {
      kind: "cannot",
      reason: `tracefs was mounted at ${TRACEFS_MOUNT_POINT} but has no events`,
    };
  }
  return { kind: "mounted", root: TRACEFS_MOUNT_POINT };
}

/** The log line of an outcome: what a person needs to know, or nothing. */
export function describeTracefsOutcome(
  outcome: TracefsOutcome,
): { level: "info" | "warn"; message: string } | undefined {
  switch (outcome.kind) {
    case "mounted":
      return {
        level: "info",
        message:
          `mounted tracefs at ${outcome.root} so that kernel tracepoints wake the /proc/net source (--no-procnet-events: no mount, polling)`,
      };
    case "cannot":
      return {
        level: "warn",
        message:
          `Cannot mount tracefs for the /proc/net source's kernel events: ${outcome.reason}; it polls instead`,
      };
    default:
      return undefined;
  }
}
