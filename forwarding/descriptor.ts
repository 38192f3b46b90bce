/**
 * What a forwarder is, in one typed value: its name, its options and flags,
 * the modes it serves and which bindings it takes in each, how it is made,
 * and its traits. The CLI, the route and the agent's wiring read these
 * descriptors from the registry (forwarding/registry.ts) and nothing else;
 * adding a forwarder is its descriptor and one registry line.
 *
 * @module
 */
import type { AgentMode, Observation } from "../binding/modes.ts";
import type { Binding } from "../binding/binding.ts";
import type { OptionSpec } from "../support/option_table.ts";
import type { OpenFilesLimit } from "../support/open_files.ts";
import type { Forwarder } from "./forwarder.ts";

/**
 * A binding as a route sees it: the binding, and what its holders observe.
 *
 * @example Usage
 * ```ts
 * import { FORWARDERS, makeBinding, type Sighting } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const sighting: Sighting = {
 *   binding: makeBinding("tcp", "127.0.0.1", 8080),
 *   observations: new Set(["engine-ports"]),
 * };
 * const dnat = FORWARDERS.find((forwarder) => forwarder.name === "dnat")!;
 * assert.equal(dnat.takes("host-switch", sighting), true);
 * ```
 */
export interface Sighting {
  /** The binding. */
  readonly binding: Binding;
  /** What the sources holding it observe (one entry per kind). */
  readonly observations: ReadonlySet<Observation>;
}

/**
 * Whether any holder of the sighting observes one of `kinds`: what a
 * forwarder's `takes` asks most often.
 */
export function observedAny(
  { observations }: Sighting,
  ...kinds: readonly Observation[]
): boolean {
  return kinds.some((kind) => observations.has(kind));
}

/**
 * The agent-wide settings a forwarder may read besides its own options.
 *
 * @example Usage
 * ```ts
 * import type { ForwarderSettings } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const settings: ForwarderSettings = {
 *   tapIp: "192.168.127.2",
 *   stateDir: "/var/lib/guest-agent",
 *   settleMs: 2_000,
 * };
 * assert.equal(settings.tapIp, "192.168.127.2");
 * ```
 */
export interface ForwarderSettings {
  /** The VM's tap address (`-tap-interface-ip`). */
  readonly tapIp: string;
  /** Where the agent keeps its small state files (`--state-dir`). */
  readonly stateDir: string;
  /** How long a binding must stay unserved or wanted before a socket opens for it, ms. */
  readonly settleMs: number;
}

/**
 * What a forwarder is made with.
 *
 * @example Usage
 * ```ts
 * import {
 *   type AnyForwarderDescriptor,
 *   FORWARDERS,
 *   type ForwarderContext,
 * } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const context: ForwarderContext<Record<never, never>> = {
 *   options: {},
 *   settings: { tapIp: "192.168.127.2", stateDir: "/tmp", settleMs: 2_000 },
 *   libcPath: undefined,
 *   limit: undefined,
 *   engines: new Set(["docker"]),
 *   vmSocketSources: new Set(["procnet"]),
 * };
 * const log: AnyForwarderDescriptor = FORWARDERS.find((f) => f.name === "log")!;
 * assert.equal(log.create(context).name, "log");
 * ```
 */
export interface ForwarderContext<O> {
  /** Its options (and every other option the agent has). */
  readonly options: O;
  /** The agent-wide settings. */
  readonly settings: ForwarderSettings;
  /** libc's path, for FFI, or undefined where none is mapped. */
  readonly libcPath: string | undefined;
  /** The open-files limit, where known. */
  readonly limit: OpenFilesLimit | undefined;
  /** The sources that observe an engine's published ports. */
  readonly engines: ReadonlySet<string>;
  /** The sources that read the VM's own sockets. */
  readonly vmSocketSources: ReadonlySet<string>;
}

/**
 * Thrown by a descriptor's `create` when the options cannot work here.
 *
 * @example Usage
 * ```ts
 * import { ForwarderSetupError } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const error = new ForwarderSetupError("Cannot send to vsock://2:3040: no libc");
 * assert.equal(error.name, "ForwarderSetupError");
 * ```
 */
export class ForwarderSetupError extends Error {
  /** Creates the error; the message is what the user reads. */
  constructor(message: string) {
    super(message);
    this.name = "ForwarderSetupError";
  }
}

/**
 * One forwarder. `O` is its options: what its own flags set (in
 * `options` and `defaults`); its `create` may read any option the agent
 * has.
 *
 * @example Usage
 * ```ts
 * import { type ForwarderDescriptor, FORWARDERS, LogForwarder, parseCommandLine, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * // A forwarder of one's own: its flag, its mode, what it takes, how it is made.
 * const audit: ForwarderDescriptor<{ readonly auditName: string }> = {
 *   name: "audit",
 *   options: [{ key: "auditName", name: "audit-name", kind: "value", valueName: "<name>", help: "its name", parse: (value) => value }],
 *   defaults: { auditName: "audit" },
 *   modes: ["privileged"],
 *   takes: (_mode, { observations }) => observations.has("engine-ports"),
 *   create: ({ options }) => new LogForwarder(options.auditName),
 * };
 * const parsed = parseCommandLine(["--audit-name=mine"], {}, SOURCES, [...FORWARDERS, audit]);
 * assert(parsed.kind === "run");
 * ```
 */
export interface ForwarderDescriptor<O> {
  /** Its name: in logs, `status`, `ports` and routes. */
  readonly name: string;
  /** Its own options, in the order the help lists them. */
  readonly options: readonly OptionSpec<O>[];
  /** The value of each of its options when not given. */
  readonly defaults: O;
  /** The modes in which the agent makes it. */
  readonly modes: readonly AgentMode[];
  /** Whether it should have a binding seen as `sighting`, in `mode`. */
  takes(mode: AgentMode, sighting: Sighting): boolean;
  /** The options turn it off (the WSL proxy without a socket). */
  off?(options: O): boolean;
  /**
   * Makes it.
   *
   * @throws {ForwarderSetupError} When the options cannot work here.
   */
  create(context: ForwarderContext<O>): Forwarder;
}
