/**
 * The command line: Go agent flags in every form, plus our own long options.
 * Go forms are rewritten to long options first (go_flags.ts); one table of
 * options then drives parsing, validation and the help text.
 *
 * @module
 */
import { isIpv4, isPort } from "../support/ip.ts";
import { parseVtunnelTarget } from "../forwarding/vtunnel_target.ts";
import { normaliseGoFlags, parseGoBoolean, UsageError } from "./go_flags.ts";
import {
  type AgentMode,
  type AgentOptions,
  DEFAULT_OPTIONS,
} from "./options.ts";
import { VERSION } from "./version.ts";

/** What the command line asks for. */
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

function portArgument(flag: string) {
  return (value: string): number => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || !isPort(port)) {
      throw new UsageError(
        `invalid value ${
          JSON.stringify(value)
        } for ${flag}: accepted values are integers from 1 to 65535`,
      );
    }
    return port;
  };
}

function msArgument(flag: string, min: number) {
  return (value: string): number => {
    const ms = Number(value);
    if (!/^\d+$/.test(value) || ms < min || ms > 86_400_000) {
      throw new UsageError(
        `invalid value ${
          JSON.stringify(value)
        } for ${flag}: accepted values are whole milliseconds from ${min}`,
      );
    }
    return ms;
  };
}

function pathArgument(flag: string) {
  return (value: string): string => {
    if (value === "" || value.includes("\0")) {
      throw new UsageError(
        `invalid value for ${flag}: accepted values are file paths`,
      );
    }
    return value;
  };
}

/** How an option takes its value. */
type OptionKind =
  /**
   * `--name`, `-name`, `--name=true|1|t` set true; `--name=false|0|f` and
   * `--no-name` set false (the help lists `--no-name` where `negation` is).
   */
  | "boolean"
  /** `--name value` or `--name=value`; the last one given wins. */
  | "value"
  /** Like "value", but every occurrence is kept, in order. */
  | "repeated";

interface OptionSpec {
  /** The long option without dashes. */
  readonly name: string;
  readonly kind: OptionKind;
  readonly help: string;
  /** The value's placeholder in the help text, as in `<path>`. */
  readonly valueName?: string;
  /** Help of `--no-<name>`, for booleans that list it. */
  readonly negation?: string;
  /** Checks and converts a value; throws UsageError naming the flag. */
  readonly parse?: (value: string) => unknown;
  /** Shown in the help text. */
  readonly shownDefault?: string;
}

function choiceArgument(flag: string, choices: readonly string[]) {
  return (value: string): string => {
    if (!choices.includes(value)) {
      throw new UsageError(
        `invalid value ${
          JSON.stringify(value)
        } for ${flag}: accepted values are ${choices.join(", ")}`,
      );
    }
    return value;
  };
}

function shown(value: string | number): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "debug",
    kind: "boolean",
    help: "debug logging (Go: -debug)",
    negation: "info logging",
  },
  {
    name: "log-format",
    kind: "value",
    valueName: "<format>",
    help: 'log line format: "text" or "json"',
    parse: choiceArgument("--log-format", ["text", "json"]),
    shownDefault: shown(DEFAULT_OPTIONS.logFormat),
  },
  {
    name: "dry-run",
    kind: "boolean",
    help: "log the forwarding table instead of forwarding, in any mode",
  },
  {
    name: "docker",
    kind: "boolean",
    help: "watch Docker events (Go: -docker)",
    negation: "do not watch Docker",
  },
  {
    name: "docker-socket",
    kind: "value",
    valueName: "<path>",
    help: "Docker socket",
    parse: pathArgument("--docker-socket"),
    shownDefault: "DOCKER_HOST=unix://… or /var/run/docker.sock",
  },
  {
    name: "containerd",
    kind: "boolean",
    help: "watch containerd events (Go: -containerd)",
    negation: "do not watch containerd",
  },
  {
    name: "containerd-sock",
    kind: "value",
    valueName: "<path>",
    help: "containerd socket (Go: -containerdSock)",
    parse: pathArgument("-containerdSock"),
    shownDefault: shown(DEFAULT_OPTIONS.containerdSocket),
  },
  {
    name: "nerdctl-data-root",
    kind: "value",
    valueName: "<path>",
    help:
      "nerdctl's data root: the containerd source may read network-config.json of containers' state dirs under it",
    parse: pathArgument("--nerdctl-data-root"),
    shownDefault: shown(DEFAULT_OPTIONS.nerdctlDataRoot),
  },
  {
    name: "iptables",
    kind: "boolean",
    help: "scan iptables DNAT rules (Go: -iptables, default true)",
    negation: "do not scan iptables",
  },
  {
    name: "control-socket",
    kind: "value",
    valueName: "<path>",
    help: 'unix socket of the ports and status commands ("" for none)',
    shownDefault: shown(DEFAULT_OPTIONS.controlSocket),
  },
  {
    name: "iptables-interval",
    kind: "value",
    valueName: "<ms>",
    help:
      "ms between iptables scans where the kernel sends no change notifications (legacy backend)",
    parse: msArgument("--iptables-interval", 10),
    shownDefault: shown(DEFAULT_OPTIONS.iptablesIntervalMs),
  },
  {
    name: "iptables-resync",
    kind: "value",
    valueName: "<ms>",
    help:
      "ms between safety-net iptables rescans when change notifications work",
    parse: msArgument("--iptables-resync", 100),
    shownDefault: shown(DEFAULT_OPTIONS.iptablesResyncMs),
  },
  {
    name: "kubernetes",
    kind: "boolean",
    help: "watch NodePort/LoadBalancer services (Go: -kubernetes)",
    negation: "do not watch Kubernetes",
  },
  {
    name: "kubeconfig",
    kind: "value",
    valueName: "<path>",
    help: "kubeconfig (Go: -kubeconfig)",
    parse: pathArgument("-kubeconfig"),
    shownDefault: shown(DEFAULT_OPTIONS.kubeconfig),
  },
  {
    name: "procnet",
    kind: "boolean",
    help: "scan /proc/net for listening sockets",
    negation: "do not scan /proc/net",
  },
  {
    name: "procnet-interval",
    kind: "value",
    valueName: "<ms>",
    help: "time between /proc/net scans",
    parse: msArgument("--procnet-interval", 10),
    shownDefault: shown(DEFAULT_OPTIONS.procnetIntervalMs),
  },
  {
    name: "ignore-port",
    kind: "repeated",
    valueName: "<port>",
    help: "a host port never to forward (repeat for more)",
    parse: portArgument("--ignore-port"),
  },
  {
    name: "privileged-service",
    kind: "boolean",
    help:
      "send PortMapping JSON to the privileged service (Go: -privilegedService)",
    negation: "do not use the privileged service",
  },
  {
    name: "vtunnel-addr",
    kind: "value",
    valueName: "<address>",
    help:
      "privileged service address: host:port, tcp://, unix:// or vsock:// (Go: -vtunnelAddr)",
    parse: (value: string) => {
      try {
        parseVtunnelTarget(value);
      } catch (error) {
        throw new UsageError(
          `invalid value for -vtunnelAddr: ${(error as Error).message}`,
        );
      }
      return value;
    },
    shownDefault: shown(DEFAULT_OPTIONS.vtunnelAddr),
  },
  {
    name: "connect-interface",
    kind: "value",
    valueName: "<name>",
    help: "interface whose addresses the privileged service connects to",
    parse: (value: string) => {
      if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(value)) {
        throw new UsageError(
          `invalid value ${
            JSON.stringify(value)
          } for --connect-interface: accepted values are interface names of 1 to 15 characters`,
        );
      }
      return value;
    },
    shownDefault: shown(DEFAULT_OPTIONS.connectInterface),
  },
  {
    name: "k8s-service-listener-addr",
    kind: "value",
    valueName: "<address>",
    help:
      "address Kubernetes services bind to: 0.0.0.0 or 127.0.0.1 (Go: -k8sServiceListenerAddr)",
    parse: (value: string) => {
      if (value !== "0.0.0.0" && value !== "127.0.0.1") {
        throw new UsageError(
          `invalid value ${
            JSON.stringify(value)
          } for -k8sServiceListenerAddr: accepted values are 0.0.0.0 and 127.0.0.1`,
        );
      }
      return value;
    },
    shownDefault: shown(DEFAULT_OPTIONS.k8sServiceListenerAddr),
  },
  {
    name: "admin-install",
    kind: "boolean",
    help:
      "admin install: expose on the binding's own address (Go: -adminInstall)",
    negation: "expose on 127.0.0.1",
  },
  {
    name: "k8s-api-port",
    kind: "value",
    valueName: "<port>",
    help: "Kubernetes API port forwarded with -kubernetes (Go: -k8sAPIPort)",
    parse: portArgument("-k8sAPIPort"),
    shownDefault: shown(DEFAULT_OPTIONS.k8sApiPort),
  },
  {
    name: "tap-interface-ip",
    kind: "value",
    valueName: "<address>",
    help: "the VM's tap IP, host-switch remote (Go: -tap-interface-ip)",
    parse: (value: string) => {
      if (!isIpv4(value)) {
        throw new UsageError(
          `invalid value ${
            JSON.stringify(value)
          } for -tap-interface-ip: accepted values are IPv4 addresses`,
        );
      }
      return value;
    },
    shownDefault: shown(DEFAULT_OPTIONS.tapInterfaceIp),
  },
  {
    name: "host-switch-url",
    kind: "value",
    valueName: "<url>",
    help: "the host-switch API (namespaced network)",
    parse: (value: string) => {
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch { /* reported below */ }
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
        throw new UsageError(
          `invalid value ${
            JSON.stringify(value)
          } for --host-switch-url: accepted values are http:// or https:// URLs`,
        );
      }
      return value;
    },
    shownDefault: shown(DEFAULT_OPTIONS.hostSwitchUrl),
  },
  {
    name: "state-dir",
    kind: "value",
    valueName: "<path>",
    help: "where the agent records what it exposed",
    parse: pathArgument("--state-dir"),
    shownDefault: shown(DEFAULT_OPTIONS.stateDir),
  },
  {
    name: "shutdown-timeout",
    kind: "value",
    valueName: "<ms>",
    help: "how long shutdown may spend removing forwarded ports",
    parse: msArgument("--shutdown-timeout", 100),
    shownDefault: shown(DEFAULT_OPTIONS.shutdownTimeoutMs),
  },
  {
    name: "listener-settle",
    kind: "value",
    valueName: "<ms>",
    help:
      "a port gets a listener only after nothing in the VM listened on it this long",
    parse: msArgument("--listener-settle", 0),
    shownDefault: shown(DEFAULT_OPTIONS.listenerSettleMs),
  },
];

const BY_NAME = new Map(OPTIONS.map((spec) => [spec.name, spec]));

/** The long names of every boolean option (each takes every boolean form). */
export const BOOLEAN_OPTIONS: readonly string[] = OPTIONS
  .filter((spec) => spec.kind === "boolean")
  .map((spec) => spec.name);

function helpText(): string {
  const rows: [string, string][] = [[
    "-V, --version",
    "print the version and exit",
  ]];
  for (const spec of OPTIONS) {
    const value = spec.valueName ? ` ${spec.valueName}` : "";
    const fallback = spec.shownDefault
      ? ` (default: ${spec.shownDefault})`
      : "";
    rows.push([`--${spec.name}${value}`, `${spec.help}${fallback}`]);
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

/** What the arguments set: a value per option given (repeated ones: all). */
type GivenOptions = Map<string, unknown>;

/** Reads normalised arguments; `"help"` or `"version"` when one was asked for. */
function readArguments(
  args: readonly string[],
): GivenOptions | "help" | "version" {
  const given: GivenOptions = new Map();
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === "-h" || arg === "--help") return "help";
    if (arg === "-V" || arg === "--version") return "version";
    if (arg === "--" || !arg.startsWith("-") || arg === "-") {
      const extra = arg === "--" ? args[index + 1] : arg;
      if (extra === undefined) continue;
      throw new UsageError(
        `unexpected argument ${
          JSON.stringify(extra)
        }: flags take the form -name, -name=value or -name value`,
      );
    }
    // Go's flag package takes -name and --name alike; so do we.
    const match = /^--?([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    const flag = match?.[1] ?? "";
    const inline = match?.[2];
    const negated = flag.startsWith("no-")
      ? BY_NAME.get(flag.slice(3))
      : undefined;
    if (negated?.kind === "boolean" && !BY_NAME.has(flag)) {
      if (inline !== undefined) {
        throw new UsageError(
          `--${flag} takes no value: use --${negated.name}=true or false`,
        );
      }
      given.set(negated.name, false);
      continue;
    }
    const spec = BY_NAME.get(flag);
    if (!match || !spec) {
      throw new UsageError(
        `unknown flag ${arg.split("=")[0]}: see --help for the accepted flags`,
      );
    }
    if (spec.kind === "boolean") {
      const value = inline === undefined ? true : parseGoBoolean(inline);
      if (value === undefined) {
        throw new UsageError(
          `invalid value ${
            JSON.stringify(inline)
          } for --${spec.name}: accepted values are true and false`,
        );
      }
      given.set(spec.name, value);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = args[index + 1];
      if (value === undefined) {
        throw new UsageError(`--${spec.name} needs a value: see --help`);
      }
      index++;
    }
    const parsed = spec.parse ? spec.parse(value) : value;
    given.set(
      spec.name,
      spec.kind === "repeated"
        ? [...(given.get(spec.name) as unknown[] | undefined ?? []), parsed]
        : parsed,
    );
  }
  return given;
}

/** Flags that, set to true, leave auto mode (as the Go agent's launchers pass them). */
const MODE_FLAGS = [
  "docker",
  "containerd",
  "iptables",
  "kubernetes",
  "procnet",
  "privileged-service",
] as const;

/**
 * Parses the command line. Never exits or prints: the caller does, so this
 * is testable.
 *
 * @param argv The arguments after the program name.
 * @param env The environment (DOCKER_HOST is read).
 * @returns Options to run with, or what to print and the exit code.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: { readonly DOCKER_HOST?: string | undefined } = {},
): CommandLineResult {
  const usage = (message: string): CommandLineResult => ({
    kind: "exit",
    code: 2,
    stdout: "",
    stderr: `guest-agent: ${message}\n`,
  });
  let given: ReturnType<typeof readArguments>;
  try {
    given = readArguments(normaliseGoFlags(argv));
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    throw error;
  }
  if (given === "help" || given === "version") {
    const stdout = given === "help" ? `${helpText()}\n` : `${VERSION}\n`;
    return { kind: "exit", code: 0, stdout, stderr: "" };
  }
  const flag = (name: string) => given.get(name) as boolean | undefined;
  const value = <T>(name: string, fallback: T) =>
    (given.has(name) ? given.get(name) : fallback) as T;
  const explicit = MODE_FLAGS.some((name) => flag(name) === true);
  // Explicit mode: a source runs when enabled (iptables by default, as in
  // Go). Auto mode: a source may run when detected, unless switched off.
  const docker = flag("docker") ?? !explicit;
  const containerd = flag("containerd") ?? !explicit;
  const iptables = flag("iptables") ?? true;
  const kubernetes = flag("kubernetes") ?? !explicit;
  const procnet = flag("procnet") ?? !explicit;
  if (explicit && docker && containerd) {
    return usage(
      "-docker and -containerd cannot both be set: accepted is one container engine, the one the VM runs",
    );
  }
  let dockerSocket = value("docker-socket", DEFAULT_OPTIONS.dockerSocket);
  if (!given.has("docker-socket") && env.DOCKER_HOST) {
    if (env.DOCKER_HOST.startsWith("unix:///")) {
      dockerSocket = env.DOCKER_HOST.slice("unix://".length);
    } else if (explicit && docker) {
      return usage(
        `DOCKER_HOST=${env.DOCKER_HOST} is not supported: accepted values are unix:///absolute/path (or pass --docker-socket)`,
      );
    }
  }
  if (!docker && !containerd && !iptables && !kubernetes && !procnet) {
    return usage(
      "nothing to watch: accepted are any of -docker, -containerd, -iptables, -kubernetes, --procnet",
    );
  }
  const privilegedService = flag("privileged-service") === true;
  const mode: AgentMode = !explicit
    ? "auto"
    : privilegedService
    ? "privileged"
    : docker || containerd
    ? "host-switch"
    : "listeners";
  return {
    kind: "run",
    options: {
      ...DEFAULT_OPTIONS,
      mode,
      debug: flag("debug") === true,
      logFormat: value("log-format", DEFAULT_OPTIONS.logFormat),
      dryRun: flag("dry-run") === true,
      docker,
      dockerSocket,
      containerd,
      containerdSocket: value(
        "containerd-sock",
        DEFAULT_OPTIONS.containerdSocket,
      ),
      iptables,
      kubernetes,
      kubeconfig: value("kubeconfig", DEFAULT_OPTIONS.kubeconfig),
      procnet,
      nerdctlDataRoot: value(
        "nerdctl-data-root",
        DEFAULT_OPTIONS.nerdctlDataRoot,
      ),
      controlSocket: value("control-socket", DEFAULT_OPTIONS.controlSocket),
      iptablesIntervalMs: value(
        "iptables-interval",
        DEFAULT_OPTIONS.iptablesIntervalMs,
      ),
      iptablesResyncMs: value(
        "iptables-resync",
        DEFAULT_OPTIONS.iptablesResyncMs,
      ),
      procnetIntervalMs: value(
        "procnet-interval",
        DEFAULT_OPTIONS.procnetIntervalMs,
      ),
      ignorePorts: value("ignore-port", DEFAULT_OPTIONS.ignorePorts),
      privilegedService,
      vtunnelAddr: value("vtunnel-addr", DEFAULT_OPTIONS.vtunnelAddr),
      connectInterface: value(
        "connect-interface",
        DEFAULT_OPTIONS.connectInterface,
      ),
      k8sServiceListenerAddr: value(
        "k8s-service-listener-addr",
        DEFAULT_OPTIONS.k8sServiceListenerAddr,
      ),
      adminInstall: flag("admin-install") === true,
      k8sApiPort: value("k8s-api-port", DEFAULT_OPTIONS.k8sApiPort),
      tapInterfaceIp: value("tap-interface-ip", DEFAULT_OPTIONS.tapInterfaceIp),
      hostSwitchUrl: value("host-switch-url", DEFAULT_OPTIONS.hostSwitchUrl),
      stateDir: value("state-dir", DEFAULT_OPTIONS.stateDir),
      shutdownTimeoutMs: value(
        "shutdown-timeout",
        DEFAULT_OPTIONS.shutdownTimeoutMs,
      ),
      listenerSettleMs: value(
        "listener-settle",
        DEFAULT_OPTIONS.listenerSettleMs,
      ),
    },
  };
}
