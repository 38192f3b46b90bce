/**
 * The one table of source workers: entry module, permissions and start
 * configuration of each source this build has.
 *
 * @module
 */
import type { KubeconfigAccess } from "../agent/kubeconfig_access.ts";
import type { AgentOptions } from "../agent/options.ts";
import { DOCKER_URL_HOST } from "./docker/config.ts";
import { PROC_NET_ROOT } from "./procnet/config.ts";

/**
 * Where a source's worker entry is: `<name>/worker.ts` beside this file in
 * the source tree (and in a `deno compile` binary, which keeps the tree's
 * paths); `sources/<name>/worker.js` under the bundle's main.js in a build
 * of `deno task bundle` (one folder: main.js and sources/).
 */
export function workerEntry(name: string, here: string = import.meta.url): URL {
  return here.endsWith("/sources/catalog.ts")
    ? new URL(`./${name}/worker.ts`, here)
    : new URL(`./sources/${name}/worker.js`, here);
}

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
  /** iptables-save and ip6tables-save: each path on PATH and where its symlinks lead. */
  readonly iptablesSave?: readonly string[];
  /** ip6tables-save, as `iptablesSave`. */
  readonly ip6tablesSave?: readonly string[];
  /** What the current kubeconfig calls for (the Kubernetes worker's grants). */
  readonly kubeconfig?: KubeconfigAccess;
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

/** The environment variables @grpc/grpc-js reads (logging, TLS, proxies). */
export const GRPC_ENV_NAMES: readonly string[] = [
  "GRPC_VERBOSITY",
  "GRPC_NODE_VERBOSITY",
  "GRPC_TRACE",
  "GRPC_NODE_TRACE",
  "GRPC_SSL_CIPHER_SUITES",
  "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
  "GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION",
  "GRPC_NODE_USE_ALTERNATIVE_RESOLVER",
  "GRPC_NODE_DEBUG_SEND_ERROR_DETAILS",
];

/**
 * The sources this build has a worker for. A source missing here is
 * reported as "not in this build yet" and never started.
 */
export const SOURCE_WORKERS: Readonly<
  Partial<Record<SourceName, SourceWorkerSpec>>
> = {
  docker: {
    entry: workerEntry("docker"),
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
  containerd: {
    entry: workerEntry("containerd"),
    // The socket (read, write, net unix:<path>), nerdctl's state dirs for
    // network-config.json, and the variables grpc-js reads at import.
    permissions: (options) => ({
      ...NO_PERMISSIONS,
      read: [options.containerdSocket, options.nerdctlDataRoot],
      write: [options.containerdSocket],
      net: [`unix:${options.containerdSocket}`],
      env: [...GRPC_ENV_NAMES],
    }),
    config: (options) => ({
      socketPath: options.containerdSocket,
      nerdctlDataRoot: options.nerdctlDataRoot,
    }),
  },
  iptables: {
    entry: workerEntry("iptables"),
    // Running the two save binaries (their paths only: see binaryPaths in
    // agent/run_agent.ts), and FFI on libc for the nf_tables notification
    // socket (FFI is not sandboxed: README, Isolation).
    permissions: (_options, facts) => ({
      ...NO_PERMISSIONS,
      run: [...facts.iptablesSave ?? [], ...facts.ip6tablesSave ?? []],
      ffi: facts.libcPath ? [facts.libcPath] : false,
    }),
    config: (options, facts) => ({
      iptablesSave: facts.iptablesSave?.[0] ?? "/usr/sbin/iptables-save",
      ...(facts.ip6tablesSave?.[0]
        ? { ip6tablesSave: facts.ip6tablesSave[0] }
        : {}),
      pollIntervalMs: options.iptablesIntervalMs,
      resyncIntervalMs: options.iptablesResyncMs,
      ...(facts.libcPath ? { libcPath: facts.libcPath } : {}),
    }),
  },
  kubernetes: {
    entry: workerEntry("kubernetes"),
    // The API server's host:port and the certificate and token files the
    // kubeconfig references, nothing else: the main thread reads the
    // kubeconfig and sends the connection; it starts (and restarts when
    // the kubeconfig changes) the worker once it has read it.
    permissions: (_options, facts) => ({
      ...NO_PERMISSIONS,
      net: facts.kubeconfig ? [facts.kubeconfig.hostPort] : false,
      read: facts.kubeconfig?.files.length
        ? [...facts.kubeconfig.files]
        : false,
    }),
    config: (options, facts) => ({
      ...(facts.kubeconfig ? { connection: facts.kubeconfig.connection } : {}),
      listenAddress: options.k8sServiceListenerAddr,
    }),
  },
  procnet: {
    entry: workerEntry("procnet"),
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
