/**
 * The one table of source workers: entry module, permissions and start
 * configuration of each source this build has.
 *
 * @module
 */
import type { AgentOptions } from "../agent/options.ts";
import { DOCKER_URL_HOST } from "./docker/docker_client.ts";

/** Every source the agent knows of. */
export type SourceName =
  | "docker"
  | "containerd"
  | "iptables"
  | "kubernetes"
  | "procnet";

/** All source names, in the order they are reported. */
export const SOURCE_NAMES: readonly SourceName[] = [
  "docker",
  "containerd",
  "iptables",
  "kubernetes",
  "procnet",
];

/** Facts about this machine that permissions depend on. */
export interface MachineFacts {
  /** Absolute path of libc, for FFI grants (see findLibcPath). */
  readonly libcPath: string | undefined;
}

/** How to run one source's worker. */
export interface SourceWorkerSpec {
  /** The worker module. */
  readonly entry: URL;
  /** Exactly what the worker may do; everything not listed is denied. */
  permissions(
    options: AgentOptions,
    facts: MachineFacts,
  ): Deno.PermissionOptionsObject;
  /** The configuration sent in the start message. */
  config(options: AgentOptions, facts: MachineFacts): Record<string, unknown>;
}

/** Nothing at all: the base every source's permissions start from. */
export const NO_PERMISSIONS: Deno.PermissionOptionsObject = {
  env: false,
  ffi: false,
  import: false,
  net: false,
  read: false,
  run: false,
  sys: false,
  write: false,
};

/** Where the /proc/net source reads. */
export const PROC_NET_ROOT = "/proc/net";

/**
 * The sources this build has a worker for. A source missing here is
 * reported as "not in this build yet" and never started.
 */
export const SOURCE_WORKERS: Readonly<
  Partial<Record<SourceName, SourceWorkerSpec>>
> = {
  docker: {
    entry: new URL("./docker/worker.ts", import.meta.url),
    // A unix socket needs read, write and net "unix:<path>"; fetch also
    // checks the URL's host, a name that is never resolved.
    permissions: (options) => ({
      ...NO_PERMISSIONS,
      read: [options.dockerSocket],
      write: [options.dockerSocket],
      net: [`unix:${options.dockerSocket}`, DOCKER_URL_HOST],
    }),
    config: (options) => ({ socketPath: options.dockerSocket }),
  },
  procnet: {
    entry: new URL("./procnet/worker.ts", import.meta.url),
    // Deno refuses to read /proc/net (it is /proc/self/net) without
    // --allow-all, so the worker reads through libc: FFI for that one file.
    permissions: (_options, facts) => ({
      ...NO_PERMISSIONS,
      ffi: facts.libcPath ? [facts.libcPath] : false,
    }),
    config: (options, facts) => ({
      root: PROC_NET_ROOT,
      intervalMs: options.procnetIntervalMs,
      ignorePorts: [...options.ignorePorts],
      ...(facts.libcPath ? { libcPath: facts.libcPath } : {}),
    }),
  },
};
