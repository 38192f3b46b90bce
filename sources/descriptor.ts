/**
 * What a source is, in one typed value: its options and flags, how auto
 * mode detects it, its worker (module, permissions, typed configuration),
 * what it observes, and any main-thread companion.
 * The CLI, planning, routing and the supervisor read these descriptors from
 * the registry (sources/registry.ts) and nothing else; adding a source is a
 * folder `sources/<name>/` with a `source.ts` and one registry line.
 *
 * A descriptor module is loaded by the main thread: it imports no watcher
 * module (clients, parsers, watch loops), only its configuration type.
 *
 * @module
 */
import type { AgentMode, Observation } from "../binding/modes.ts";
import type { OptionSpec } from "../support/option_table.ts";
import type { PortEntry } from "../binding/binding.ts";
import type { MachineProbe } from "./probe.ts";

/**
 * Facts about this machine that every worker's grants may depend on.
 *
 * @example Usage
 * ```ts
 * import type { WorkerFacts } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const facts: WorkerFacts = { libcPath: "/usr/lib/x86_64-linux-gnu/libc.so.6" };
 * assert(facts.libcPath?.startsWith("/"));
 * ```
 */
export interface WorkerFacts {
  /** Absolute path of libc, for FFI grants (see findLibcPath). */
  readonly libcPath: string | undefined;
}

/**
 * How to run a source's worker.
 *
 * @example Usage
 * ```ts ignore
 * import { DEFAULT_OPTIONS, SOURCES } from "@guest-agent/agent";
 *
 * const docker = SOURCES.find((source) => source.name === "docker")!;
 * const grants = docker.worker.permissions(DEFAULT_OPTIONS, { libcPath: undefined });
 * console.log(docker.worker.module.href, grants);
 * ```
 */
export interface SourceWorker<O, C, F> {
  /** The worker module. */
  readonly module: URL;
  /** Exactly what the worker may do; everything not listed is denied. */
  permissions(options: O, facts: WorkerFacts & F): Deno.PermissionOptionsObject;
  /** The configuration sent in the start message; the worker parses it back as `C`. */
  config(options: O, facts: WorkerFacts & F): C;
}

/**
 * Whether auto mode runs a source, and why.
 *
 * @example Usage
 * ```ts ignore
 * import { type Detection, SOURCES, systemProbe, DEFAULT_OPTIONS } from "@guest-agent/agent";
 *
 * const docker = SOURCES.find((source) => source.name === "docker")!;
 * const detection: Detection = await docker.detect(DEFAULT_OPTIONS, systemProbe);
 * console.log(detection.ok ? "runs" : "skipped", detection.reason);
 * ```
 */
export interface Detection {
  /** It can work here. */
  readonly ok: boolean;
  /** Why it can or cannot, for the start-up log. */
  readonly reason: string;
}

/**
 * What the command line gives a descriptor's option check.
 *
 * @example Usage
 * ```ts
 * import type { ResolveContext } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const context: ResolveContext = {
 *   given: new Set(["docker"]),
 *   env: { DOCKER_HOST: "unix:///run/user/1000/docker.sock" },
 *   explicit: true,
 * };
 * assert(context.given.has("docker"));
 * ```
 */
export interface ResolveContext {
  /** The long names of the options the command line set. */
  readonly given: ReadonlySet<string>;
  /** The environment (e.g. DOCKER_HOST). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A mode flag was given (not auto mode). */
  readonly explicit: boolean;
}

/**
 * What a main-thread companion may do.
 *
 * @example Usage
 * ```ts ignore
 * import type { CompanionContext } from "@guest-agent/agent";
 *
 * // A companion starts the worker once it has what the worker needs.
 * async function companion(context: CompanionContext<{ file: string }, { text: string }>) {
 *   const text = await Deno.readTextFile(context.options.file);
 *   context.startWorker({ text });
 *   await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
 * }
 * ```
 */
export interface CompanionContext<O, F> {
  /** The agent's options. */
  readonly options: O;
  /** The agent's mode. */
  readonly mode: AgentMode;
  /** (Re)starts the source's worker, granted and configured for `facts`. */
  startWorker(facts: F): void;
  /**
   * Holds bindings the agent forwards on the source's behalf, under the
   * owner `ownerId` of the source "agent" (the Kubernetes API port).
   */
  hold(ownerId: string, entries: readonly PortEntry[]): void;
  /** Aborts when the agent stops; the companion's promise then settles. */
  readonly signal: AbortSignal;
}

/**
 * One source. `N` is its name, which is also the boolean option that
 * switches it (`--docker`); `O` its options (that switch included), `C` its
 * worker's configuration, `F` the facts its grants need beyond
 * {@linkcode WorkerFacts}.
 *
 * @example Usage
 * ```ts ignore
 * import { type SourceDescriptor, SOURCES } from "@guest-agent/agent";
 *
 * // A source is one descriptor and one registry line (docs/architecture.md,
 * // "Adding a source"); the whole agent reads it from the registry.
 * const mine: SourceDescriptor<"mine", { readonly mine: boolean }, { readonly port: number }> = {
 *   name: "mine",
 *   options: [{ key: "mine", name: "mine", kind: "boolean", help: "watch mine" }],
 *   defaults: { mine: true },
 *   detect: () => Promise.resolve({ ok: true, reason: "always" }),
 *   worker: {
 *     module: new URL("./worker.ts", import.meta.url),
 *     permissions: () => ({}),
 *     config: () => ({ port: 8080 }),
 *   },
 *   observes: "api-services",
 * };
 * const registry = [...SOURCES, mine];
 * ```
 */
export interface SourceDescriptor<
  N extends string,
  O extends { readonly [K in N]: boolean },
  C,
  F = Record<never, never>,
> {
  /** The source's name: in logs, `status`, and as its switch. */
  readonly name: N;
  /** Its options, in the order the help lists them; the first is its switch. */
  readonly options: readonly OptionSpec<O>[];
  /** The value of every option when not given (auto mode). */
  readonly defaults: O;
  /**
   * With a mode flag given, the switch's value when not given (Go: -iptables
   * is on), or that value for the mode the flags select. @default false
   */
  readonly onWithoutFlag?: boolean | ((mode: AgentMode) => boolean);
  /**
   * Checks and completes the options the command line gave (after every
   * value was parsed). Throws UsageError for a combination it refuses.
   */
  resolveOptions?(options: O, context: ResolveContext): O;
  /** Whether auto mode runs it here. */
  detect(options: O, probe: MachineProbe): Promise<Detection>;
  /** The facts its grants need, found once at start. */
  gatherFacts?(options: O, probe: MachineProbe): Promise<F>;
  /** Its worker. */
  readonly worker: SourceWorker<O, C, F>;
  /**
   * What it observes (an engine's published ports, DNAT rules, the VM's
   * sockets, an API's services): the forwarders' descriptors say which of
   * these each takes in each mode (agent/routes.ts joins the two). A source
   * of `engine-ports` is a container engine: its switch selects host-switch
   * mode, and one runs at a time. A source of `vm-sockets` sees the agent's
   * own listeners, which are dropped before the tracker sees them.
   */
  readonly observes: Observation;
  /**
   * A main-thread companion. When there is one, it starts the worker
   * (`startWorker`) when it has what the worker needs; otherwise the agent
   * starts the worker at once with the gathered facts.
   */
  companion?(context: CompanionContext<O, F>): Promise<void>;
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

/**
 * Where a source's worker module is: `worker.ts` beside its `source.ts` in
 * the source tree (and in a `deno compile` binary, which keeps the tree's
 * paths); `sources/<name>/worker.js` under the bundle's main.js in a build
 * of `deno task bundle` (one folder: main.js and sources/).
 *
 * @param name The source's name (its folder).
 * @param here The descriptor module's `import.meta.url`.
 */
export function workerModule(name: string, here: string): URL {
  return here.endsWith(`/sources/${name}/source.ts`)
    ? new URL("./worker.ts", here)
    : new URL(`./sources/${name}/worker.js`, here);
}

/**
 * Detection by a path that must exist: "`what` `path` exists", or "no
 * `what` at `path`".
 */
export async function detectPath(
  probe: MachineProbe,
  what: string,
  path: string,
): Promise<Detection> {
  return await probe.exists(path)
    ? { ok: true, reason: `${what} ${path} exists` }
    : { ok: false, reason: `no ${what} at ${path}` };
}

/** Whether `source` is a container engine (it observes an engine's published ports). */
export function isEngine(source: { readonly observes: Observation }): boolean {
  return source.observes === "engine-ports";
}

/** Whether `source` reads the VM's own sockets (and so sees the agent's listeners). */
export function readsVmSockets(
  source: { readonly observes: Observation },
): boolean {
  return source.observes === "vm-sockets";
}
