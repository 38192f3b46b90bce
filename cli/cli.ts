/**
 * The command line: Go agent flags in every form, plus our own long options.
 * Go forms are rewritten to long options first (go_flags.ts); the option
 * tables (the agent's own in options.ts, each source's in its descriptor)
 * then drive parsing, validation and the help text.
 *
 * @module
 */
import { type AnyOptionSpec, UsageError } from "../support/option_table.ts";
import type { AgentMode } from "../binding/modes.ts";
import { type SourceRegistry, SOURCES } from "../sources/registry.ts";
import { isEngine } from "../sources/descriptor.ts";
import { type ForwarderRegistry, FORWARDERS } from "../forwarding/registry.ts";
import { goFlagsOf, normaliseGoFlags } from "./go_flags.ts";
import { type GivenOptions, readArguments } from "./read_arguments.ts";
import {
  type AgentOptions,
  allOptionSpecs,
  defaultOptions,
} from "../agent/options.ts";
import { VERSION } from "../agent/version.ts";

/**
 * What the command line asks for.
 *
 * @example Usage
 * ```ts
 * import { type CommandLineResult, parseCommandLine } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const result: CommandLineResult = parseCommandLine(["--no-such-flag"]);
 * assert(result.kind === "exit");
 * assert.equal(result.code, 2);
 * ```
 */
export type CommandLineResult =
  | { readonly kind: "run"; readonly options: AgentOptions }
  | {
    /** Print `output` and exit with `code` (help, version, or a usage error). */
    readonly kind: "exit";
    /** Exit code: 0 for help and version, 2 for a usage error. */
    readonly code: number;
    /** Text for stdout (help, version). */
    readonly stdout: string;
    /** Text for stderr (the error line). */
    readonly stderr: string;
  };

const MODES_HELP = `
Modes (decided by the flags, as in the Go agent):
  auto         no mode flag given: runs every source that can work on this
               machine and logs the forwarding table as it changes.
  privileged   -privilegedService: sends PortMapping JSON to the privileged
               service at -vtunnelAddr (Docker, containerd, Kubernetes ports).
  host-switch  -docker or -containerd without -privilegedService: exposes
               ports through the host-switch API (namespaced network).
  listeners    neither: iptables (and Kubernetes) ports get listeners so WSL
               relays them to the host.
Go forms are accepted for every Go flag: -docker, --docker, -docker=true,
-docker=false, -vtunnelAddr=127.0.0.1:3040, -vtunnelAddr 127.0.0.1:3040.
Every boolean flag, ours too, takes -name, --name, --name=true, -name=1,
--name=false, -name=0 and --no-name.
`;

function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function helpText(
  specs: readonly AnyOptionSpec[],
  defaults: Readonly<Record<string, unknown>>,
): string {
  const rows: [string, string][] = [[
    "-V, --version",
    "print the version and exit",
  ]];
  for (const spec of specs) {
    const value = spec.valueName ? ` ${spec.valueName}` : "";
    const fallback = spec.shownDefault ??
      (spec.kind === "value" ? shown(defaults[spec.key]) : undefined);
    rows.push([
      `--${spec.name}${value}`,
      `${spec.help}${fallback ? ` (default: ${fallback})` : ""}`,
    ]);
    if (spec.negation) rows.push([`--no-${spec.name}`, spec.negation]);
  }
  rows.push(["-h, --help", "explain every flag and the modes"]);
  const width = Math.max(...rows.map(([flags]) => flags.length)) + 2;
  return [
    "Usage: guest-agent [options]",
    "",
    "Forwards the ports that containers and Kubernetes services publish inside the VM",
    "to the host.",
    "",
    "Options:",
    ...rows.map(([flags, help]) => `  ${flags.padEnd(width)}${help}`),
    MODES_HELP,
  ].join("\n");
}

/**
 * The options the arguments give: each spec's value where given, else its
 * default; each source's switch as the mode rules say; then each source's
 * own check (DOCKER_HOST). Throws UsageError for what cannot be accepted.
 */
function resolveOptions(
  given: GivenOptions,
  specs: readonly AnyOptionSpec[],
  registry: SourceRegistry,
  forwarders: ForwarderRegistry,
  env: Readonly<Record<string, string | undefined>>,
): AgentOptions {
  const defaults = defaultOptions(registry, forwarders) as unknown as Record<
    string,
    unknown
  >;
  const values: Record<string, unknown> = { ...defaults };
  for (const spec of specs) {
    if (given.has(spec.name)) values[spec.key] = given.get(spec.name);
  }
  // A mode flag is a source switch or -privilegedService set to true.
  const explicit = [
    ...registry.map((source) => source.name),
    "privileged-service",
  ]
    .some((name) => given.get(name) === true);
  // The mode follows from the mode flags alone (an engine is never on
  // without its flag).
  const engines = registry.filter((source) =>
    isEngine(source) && given.get(source.name) === true
  );
  const mode: AgentMode = !explicit
    ? "auto"
    : values.privilegedService === true
    ? "privileged"
    : engines.length > 0
    ? "host-switch"
    : "listeners";
  // Explicit mode: a source runs when enabled (iptables by default, as in
  // Go; /proc/net in host-switch mode, as Rancher Desktop's agent today).
  // Auto mode: a source may run when detected, unless switched off.
  for (const source of registry) {
    if (!given.has(source.name)) {
      const on = source.onWithoutFlag ?? false;
      values[source.name] = !explicit ||
        (typeof on === "function" ? on(mode) : on);
    }
  }
  if (explicit && engines.length > 1) {
    throw new UsageError(
      `Cannot watch both ${
        engines.map((engine) => `-${engine.name}`).join(" and ")
      }: accepted is one container engine, the one the VM runs`,
    );
  }
  const context = { given: new Set(given.keys()), env, explicit };
  let options = values;
  for (const source of registry) {
    if (source.resolveOptions) {
      options = { ...options, ...source.resolveOptions(options, context) };
    }
  }
  if (!registry.some((source) => options[source.name] === true)) {
    const switches = registry.map((source) => {
      const spec = source.options.find((option: AnyOptionSpec) =>
        option.key === source.name
      );
      return spec?.goName ? `-${spec.goName}` : `--${source.name}`;
    });
    throw new UsageError(
      `Cannot start with nothing to watch: accepted are any of ${
        switches.join(", ")
      }`,
    );
  }
  return { ...options, mode } as unknown as AgentOptions;
}

/** The long names of every boolean option (each takes every boolean form). */
export const BOOLEAN_OPTIONS: readonly string[] = allOptionSpecs(
  SOURCES,
  FORWARDERS,
)
  .filter((spec) => spec.kind === "boolean")
  .map((spec) => spec.name);

/**
 * Parses the command line. Never exits or prints: the caller does, so this
 * is testable.
 *
 * @param argv The arguments after the program name.
 * @param env The environment (DOCKER_HOST is read).
 * @param registry The sources whose flags are accepted. @default SOURCES
 * @param forwarders The forwarders whose flags are accepted. @default FORWARDERS
 * @returns Options to run with, or what to print and the exit code.
 *
 * @example Usage
 * ```ts
 * import { parseCommandLine } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * // The Go agent's flags, as Rancher Desktop passes them.
 * const parsed = parseCommandLine(["-docker", "-kubernetes=false", "-k8sServiceListenerAddr=127.0.0.1"]);
 * assert(parsed.kind === "run");
 * assert.deepEqual([parsed.options.mode, parsed.options.k8sServiceListenerAddr], ["host-switch", "127.0.0.1"]);
 * ```
 */
export function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  registry: SourceRegistry = SOURCES,
  forwarders: ForwarderRegistry = FORWARDERS,
): CommandLineResult {
  const usage = (message: string): CommandLineResult => ({
    kind: "exit",
    code: 2,
    stdout: "",
    stderr: `guest-agent: ${message}\n`,
  });
  const specs = allOptionSpecs(registry, forwarders);
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  try {
    const given = readArguments(
      normaliseGoFlags(argv, goFlagsOf(specs)),
      byName,
    );
    if (given === "help" || given === "version") {
      const stdout = given === "help"
        ? `${
          helpText(
            specs,
            defaultOptions(registry, forwarders) as unknown as Record<
              string,
              unknown
            >,
          )
        }\n`
        : `${VERSION}\n`;
      return { kind: "exit", code: 0, stdout, stderr: "" };
    }
    return {
      kind: "run",
      options: resolveOptions(given, specs, registry, forwarders, env),
    };
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    throw error;
  }
}
