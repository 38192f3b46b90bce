/**
 * The agent's options: its own (mode, logging, forwarding, control) and
 * every registered source's, with the table of the agent's own flags. The
 * sources' flags live in their descriptors (sources/<name>/source.ts).
 *
 * @module
 */
import { isIpv4 } from "../binding/ip.ts";
import type { AgentMode } from "../binding/modes.ts";
import {
  type AnyOptionSpec,
  choiceValue,
  msValue,
  type OptionSpec,
  pathValue,
  textValue,
  UsageError,
} from "../support/option_table.ts";
import {
  forwarderDefaults,
  type ForwarderOptions,
  type ForwarderRegistry,
  FORWARDERS,
} from "../forwarding/registry.ts";
import {
  sourceDefaults,
  type SourceOptions,
  type SourceRegistry,
  SOURCES,
} from "../sources/registry.ts";

export type { AgentMode } from "../binding/modes.ts";

/**
 * What the agent itself can be told, besides its sources' options.
 *
 * @example Usage
 * ```ts
 * import { type CoreOptions, DEFAULT_OPTIONS } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const core: CoreOptions = DEFAULT_OPTIONS;
 * assert.equal(core.mode, "auto");
 * ```
 */
export interface CoreOptions {
  /** Which forwarding mode. */
  readonly mode: AgentMode;
  /** Log at debug level. */
  readonly debug: boolean;
  /** Log format. */
  readonly logFormat: "text" | "json";
  /** Log the forwarding table instead of forwarding (any mode). */
  readonly dryRun: boolean;
  /** Send PortMapping JSON to the privileged service. */
  readonly privilegedService: boolean;
  /** The VM's tap IP, the host-switch API's remote. */
  readonly tapInterfaceIp: string;
  /** Where the agent keeps its small state files. */
  readonly stateDir: string;
  /** The control socket of the `ports` and `status` commands; "" for none. */
  readonly controlSocket: string;
  /** How long shutdown may take to remove forwarded bindings, in ms. */
  readonly shutdownTimeoutMs: number;
  /**
   * How long a port routed to the listeners must stay unserved (nothing in
   * the VM listening on it) before the agent opens a listener, in ms.
   */
  readonly listenerSettleMs: number;
}

/**
 * Everything the agent can be told: its own options, every source's and
 * every forwarder's. In auto mode the source switches (`docker`,
 * `containerd`, `iptables`, `kubernetes`, `procnet`) mean "may run when
 * detected"; in the other modes they mean "runs".
 *
 * @example Usage
 * ```ts
 * import { type AgentOptions, DEFAULT_OPTIONS } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const options: AgentOptions = { ...DEFAULT_OPTIONS, mode: "privileged", docker: true };
 * assert.equal(options.vtunnelAddr, "127.0.0.1:3040");
 * ```
 */
export type AgentOptions = CoreOptions & SourceOptions & ForwarderOptions;

/** The agent's own options when not given. */
export const CORE_DEFAULTS: CoreOptions = {
  mode: "auto",
  debug: false,
  logFormat: "text",
  dryRun: false,
  controlSocket: "/run/guest-agent/control.sock",
  privilegedService: false,
  tapInterfaceIp: "192.168.127.2",
  stateDir: "/var/lib/guest-agent",
  shutdownTimeoutMs: 5000,
  listenerSettleMs: 2000,
};

/**
 * The options of `guest-agent` with no flags: auto mode, where every source
 * may run when detected. Paths, addresses and ports equal the Go agent's.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_OPTIONS } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_OPTIONS.mode, "auto");
 * assert.equal(DEFAULT_OPTIONS.hostSwitchUrl, "http://192.168.127.1:80");
 * ```
 */
export const DEFAULT_OPTIONS: AgentOptions = {
  ...CORE_DEFAULTS,
  ...sourceDefaults(SOURCES),
  ...forwarderDefaults(FORWARDERS),
};

/** The agent's own flags that come before the sources' in the help. */
export const GENERAL_OPTIONS: readonly OptionSpec<CoreOptions>[] = [
  {
    key: "debug",
    name: "debug",
    goName: "debug",
    kind: "boolean",
    help: "debug logging (Go: -debug)",
    negation: "info logging",
  },
  {
    key: "logFormat",
    name: "log-format",
    kind: "value",
    valueName: "<format>",
    help: 'log line format: "text" or "json"',
    parse: choiceValue("--log-format", ["text", "json"] as const),
  },
  {
    key: "dryRun",
    name: "dry-run",
    kind: "boolean",
    help: "log the forwarding table instead of forwarding, in any mode",
  },
  {
    key: "controlSocket",
    name: "control-socket",
    kind: "value",
    valueName: "<path>",
    help: 'unix socket of the ports and status commands ("" for none)',
    parse: textValue,
  },
];

/**
 * The agent's forwarding flags that are not one forwarder's, after the
 * forwarders' own in the help.
 */
export const FORWARDING_OPTIONS: readonly OptionSpec<CoreOptions>[] = [
  {
    key: "privilegedService",
    name: "privileged-service",
    goName: "privilegedService",
    kind: "boolean",
    help:
      "send PortMapping JSON to the privileged service (Go: -privilegedService)",
    negation: "do not use the privileged service",
  },
  {
    key: "tapInterfaceIp",
    name: "tap-interface-ip",
    goName: "tap-interface-ip",
    kind: "value",
    valueName: "<address>",
    help: "the VM's tap IP, host-switch remote (Go: -tap-interface-ip)",
    parse: (value) => {
      if (!isIpv4(value)) {
        throw new UsageError(
          `Cannot use ${
            JSON.stringify(value)
          } for -tap-interface-ip: accepted values are IPv4 addresses`,
        );
      }
      return value;
    },
  },
  {
    key: "stateDir",
    name: "state-dir",
    kind: "value",
    valueName: "<path>",
    help: "where the agent records what it exposed",
    parse: pathValue("--state-dir"),
  },
  {
    key: "shutdownTimeoutMs",
    name: "shutdown-timeout",
    kind: "value",
    valueName: "<ms>",
    help: "how long shutdown may spend removing forwarded ports",
    parse: msValue("--shutdown-timeout", 100),
  },
  {
    key: "listenerSettleMs",
    name: "listener-settle",
    kind: "value",
    valueName: "<ms>",
    help:
      "a port gets a listener only after nothing in the VM listened on it this long; a loopback relay waits as long",
    parse: msValue("--listener-settle", 0),
  },
];

/**
 * Every option spec, in help order: the agent's general options, each
 * source's (in registry order), each forwarder's, then the agent's other
 * forwarding options.
 */
export function allOptionSpecs(
  registry: SourceRegistry,
  forwarders: ForwarderRegistry = FORWARDERS,
): AnyOptionSpec[] {
  return [
    ...GENERAL_OPTIONS,
    ...registry.flatMap((source) => source.options),
    ...forwarders.flatMap((forwarder) => forwarder.options),
    ...FORWARDING_OPTIONS,
  ] as AnyOptionSpec[];
}

/** The defaults of the agent's own options, of every source and every forwarder. */
export function defaultOptions(
  registry: SourceRegistry,
  forwarders: ForwarderRegistry = FORWARDERS,
): AgentOptions {
  return {
    ...CORE_DEFAULTS,
    ...sourceDefaults(registry),
    ...forwarderDefaults(forwarders),
  };
}
