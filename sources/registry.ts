/**
 * The registry: every source this build has, in the order they are
 * reported. Adding a source is its folder `sources/<name>/` (a `source.ts`
 * descriptor and a `worker.ts` entry) and one line here; the CLI, planning,
 * routing, the supervisor, and the bundle and compile tasks (checked by
 * tests/bundle_test.ts and tests/compile_task_test.ts) read this list.
 *
 * @module
 */
import type { SourceDescriptor } from "./descriptor.ts";
import type { Intersection, OptionsOf } from "../support/option_table.ts";
import { containerdSource } from "./containerd/source.ts";
import { dockerSource } from "./docker/source.ts";
import { iptablesSource } from "./iptables/source.ts";
import { kubernetesSource } from "./kubernetes/source.ts";
import { procnetSource } from "./procnet/source.ts";

/**
 * The sources of this build.
 *
 * @example Usage
 * ```ts
 * import { SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   SOURCES.map((source) => [source.name, source.observes]),
 *   [
 *     ["docker", "engine-ports"],
 *     ["containerd", "engine-ports"],
 *     ["iptables", "dnat-rules"],
 *     ["kubernetes", "api-services"],
 *     ["procnet", "vm-sockets"],
 *   ],
 * );
 * ```
 */
export const SOURCES = [
  dockerSource,
  containerdSource,
  iptablesSource,
  kubernetesSource,
  procnetSource,
] as const;

/**
 * A descriptor of any source, its types forgotten (what the agent iterates).
 *
 * @example Usage
 * ```ts
 * import { type AnySourceDescriptor, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const engines: AnySourceDescriptor[] = SOURCES.filter((s) => s.observes === "engine-ports");
 * assert.deepEqual(engines.map((s) => s.name), ["docker", "containerd"]);
 * ```
 */
// deno-lint-ignore no-explicit-any -- the registry holds descriptors of different option, config and fact types
export type AnySourceDescriptor = SourceDescriptor<string, any, any, any>;

/**
 * A list of sources: {@linkcode SOURCES}, or a test's own list.
 *
 * @example Usage
 * ```ts
 * import { parseCommandLine, type SourceRegistry, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * // A build without the Kubernetes source: its flags are refused.
 * const registry: SourceRegistry = SOURCES.filter((s) => s.name !== "kubernetes");
 * const parsed = parseCommandLine(["-kubernetes"], {}, registry);
 * assert(parsed.kind === "exit" && parsed.code === 2);
 * ```
 */
export type SourceRegistry = readonly AnySourceDescriptor[];

/**
 * Every source the agent knows of.
 *
 * @example Usage
 * ```ts
 * import { type SourceName, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const names: SourceName[] = SOURCES.map((source) => source.name);
 * assert(names.includes("kubernetes"));
 * ```
 */
export type SourceName = typeof SOURCES[number]["name"];

/** All source names, in the order they are reported. */
export const SOURCE_NAMES: readonly SourceName[] = SOURCES.map((source) =>
  source.name
);

export type { Intersection, OptionsOf };

/**
 * The options of every registered source, in one object.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_OPTIONS, type SourceOptions } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const sources: SourceOptions = DEFAULT_OPTIONS;
 * assert.equal(sources.kubeconfig, "/etc/rancher/k3s/k3s.yaml");
 * ```
 */
export type SourceOptions = Intersection<OptionsOf<typeof SOURCES[number]>>;

/** Each source's defaults, in one object. */
export function sourceDefaults(registry: SourceRegistry): SourceOptions {
  return Object.assign({}, ...registry.map((source) => source.defaults));
}
