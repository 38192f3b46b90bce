/**
 * The command line: Go agent flags in every form, plus our own long options.
 *
 * @module
 */
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "@commander-js/extra-typings";
import { isIpv4, isPort } from "../tracker/binding.ts";
import { parseVtunnelTarget } from "../forwarding/vtunnel_target.ts";
import { normaliseGoFlags, UsageError } from "./go_flags.ts";
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
`;

function portArgument(flag: string) {
  return (value: string): number => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || !isPort(port)) {
      throw new InvalidArgumentError(
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
      throw new InvalidArgumentError(
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
      throw new InvalidArgumentError(
        `invalid value for ${flag}: accepted values are file paths`,
      );
    }
    return value;
  };
}

function buildCommand(output: { out: string; err: string }) {
  return new Command()
    .name("guest-agent")
    .description(
      "Forwards the ports that containers and Kubernetes services publish inside the VM to the host.",
    )
    .version(VERSION, "-V, --version", "print the version and exit")
    .helpOption("-h, --help", "explain every flag and the modes")
    .addHelpText("after", MODES_HELP)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.out += text,
      writeErr: (text) => output.err += text,
      outputError: () => {},
    })
    .option("--debug", "debug logging (Go: -debug)")
    .option("--no-debug", "info logging")
    .addOption(
      new Option("--log-format <format>", "log line format")
        .choices(["text", "json"] as const)
        .default("text" as const),
    )
    .option(
      "--dry-run",
      "log the forwarding table instead of forwarding, in any mode",
    )
    .option("--docker", "watch Docker events (Go: -docker)")
    .option("--no-docker", "do not watch Docker")
    .option(
      "--docker-socket <path>",
      "Docker socket (default: DOCKER_HOST=unix://… or /var/run/docker.sock)",
      pathArgument("--docker-socket"),
    )
    .option("--containerd", "watch containerd events (Go: -containerd)")
    .option("--no-containerd", "do not watch containerd")
    .option(
      "--containerd-sock <path>",
      "containerd socket (Go: -containerdSock)",
      pathArgument("-containerdSock"),
      DEFAULT_OPTIONS.containerdSocket,
    )
    .option(
      "--nerdctl-data-root <path>",
      "nerdctl's data root: the containerd source may read network-config.json of containers' state dirs under it",
      pathArgument("--nerdctl-data-root"),
      DEFAULT_OPTIONS.nerdctlDataRoot,
    )
    .option(
      "--iptables",
      "scan iptables DNAT rules (Go: -iptables, default true)",
    )
    .option("--no-iptables", "do not scan iptables")
    .option(
      "--control-socket <path>",
      'unix socket of the ports and status commands ("" for none)',
      DEFAULT_OPTIONS.controlSocket,
    )
    .option(
      "--iptables-interval <ms>",
      "ms between iptables scans where the kernel sends no change notifications (legacy backend)",
      msArgument("--iptables-interval", 10),
      DEFAULT_OPTIONS.iptablesIntervalMs,
    )
    .option(
      "--iptables-resync <ms>",
      "ms between safety-net iptables rescans when change notifications work",
      msArgument("--iptables-resync", 100),
      DEFAULT_OPTIONS.iptablesResyncMs,
    )
    .option(
      "--kubernetes",
      "watch NodePort/LoadBalancer services (Go: -kubernetes)",
    )
    .option("--no-kubernetes", "do not watch Kubernetes")
    .option(
      "--kubeconfig <path>",
      "kubeconfig (Go: -kubeconfig)",
      pathArgument("-kubeconfig"),
      DEFAULT_OPTIONS.kubeconfig,
    )
    .option("--procnet", "scan /proc/net for listening sockets")
    .option("--no-procnet", "do not scan /proc/net")
    .option(
      "--procnet-interval <ms>",
      "time between /proc/net scans",
      msArgument("--procnet-interval", 10),
      DEFAULT_OPTIONS.procnetIntervalMs,
    )
    .option(
      "--ignore-port <port>",
      "a host port never to forward (repeat for more)",
      (value: string, previous: number[]) => [
        ...previous,
        portArgument("--ignore-port")(value),
      ],
      [] as number[],
    )
    .option(
      "--privileged-service",
      "send PortMapping JSON to the privileged service (Go: -privilegedService)",
    )
    .option("--no-privileged-service", "do not use the privileged service")
    .option(
      "--vtunnel-addr <address>",
      "privileged service address: host:port, tcp://, unix:// or vsock:// (Go: -vtunnelAddr)",
      (value: string) => {
        try {
          parseVtunnelTarget(value);
        } catch (error) {
          throw new InvalidArgumentError(
            `invalid value for -vtunnelAddr: ${(error as Error).message}`,
          );
        }
        return value;
      },
      DEFAULT_OPTIONS.vtunnelAddr,
    )
    .option(
      "--connect-interface <name>",
      "interface whose addresses the privileged service connects to",
      (value: string) => {
        if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(value)) {
          throw new InvalidArgumentError(
            `invalid value ${
              JSON.stringify(value)
            } for --connect-interface: accepted values are interface names of 1 to 15 characters`,
          );
        }
        return value;
      },
      DEFAULT_OPTIONS.connectInterface,
    )
    .option(
      "--k8s-service-listener-addr <address>",
      "address Kubernetes services bind to: 0.0.0.0 or 127.0.0.1 (Go: -k8sServiceListenerAddr)",
      (value: string) => {
        if (value !== "0.0.0.0" && value !== "127.0.0.1") {
          throw new InvalidArgumentError(
            `invalid value ${
              JSON.stringify(value)
            } for -k8sServiceListenerAddr: accepted values are 0.0.0.0 and 127.0.0.1`,
          );
        }
        return value as "0.0.0.0" | "127.0.0.1";
      },
      DEFAULT_OPTIONS.k8sServiceListenerAddr,
    )
    .option(
      "--admin-install",
      "admin install: expose on the binding's own address (Go: -adminInstall)",
    )
    .option("--no-admin-install", "expose on 127.0.0.1")
    .option(
      "--k8s-api-port <port>",
      "Kubernetes API port forwarded with -kubernetes (Go: -k8sAPIPort)",
      portArgument("-k8sAPIPort"),
      DEFAULT_OPTIONS.k8sApiPort,
    )
    .option(
      "--tap-interface-ip <address>",
      "the VM's tap IP, host-switch remote (Go: -tap-interface-ip)",
      (value: string) => {
        if (!isIpv4(value)) {
          throw new InvalidArgumentError(
            `invalid value ${
              JSON.stringify(value)
            } for -tap-interface-ip: accepted values are IPv4 addresses`,
          );
        }
        return value;
      },
      DEFAULT_OPTIONS.tapInterfaceIp,
    )
    .option(
      "--host-switch-url <url>",
      "the host-switch API (namespaced network)",
      (value: string) => {
        let url: URL | undefined;
        try {
          url = new URL(value);
        } catch { /* reported below */ }
        if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
          throw new InvalidArgumentError(
            `invalid value ${
              JSON.stringify(value)
            } for --host-switch-url: accepted values are http:// or https:// URLs`,
          );
        }
        return value;
      },
      DEFAULT_OPTIONS.hostSwitchUrl,
    )
    .option(
      "--state-dir <path>",
      "where the agent records what it exposed",
      pathArgument("--state-dir"),
      DEFAULT_OPTIONS.stateDir,
    )
    .option(
      "--shutdown-timeout <ms>",
      "how long shutdown may spend removing forwarded ports",
      msArgument("--shutdown-timeout", 100),
      DEFAULT_OPTIONS.shutdownTimeoutMs,
    );
}

/** Flags that, set to true, leave auto mode (as the Go agent's launchers pass them). */
const MODE_FLAGS = [
  "docker",
  "containerd",
  "iptables",
  "kubernetes",
  "procnet",
  "privilegedService",
] as const;

function commanderMessage(error: CommanderError): string {
  const text = error.message.replace(/^error: /, "");
  const unknown = /unknown option '([^']+)'/.exec(text);
  if (unknown) {
    return `unknown flag ${unknown[1]}: see --help for the accepted flags`;
  }
  const invalid =
    /option '(--[\w-]+)[^']*' argument '([^']*)' is invalid\. (.*)$/s
      .exec(text);
  if (invalid) {
    const [, flag, value, reason] = invalid as unknown as string[];
    const choices = /^Allowed choices are (.*)\.$/.exec(reason!.trim());
    return choices
      ? `invalid value ${
        JSON.stringify(value)
      } for ${flag}: accepted values are ${choices[1]}`
      : reason!.trim();
  }
  const missing = /option '(--[\w-]+)[^']*' argument missing/.exec(text);
  if (missing) return `${missing[1]} needs a value: see --help`;
  return text;
}

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
  const output = { out: "", err: "" };
  const usage = (message: string): CommandLineResult => ({
    kind: "exit",
    code: 2,
    stdout: "",
    stderr: `guest-agent: ${message}\n`,
  });
  const command = buildCommand(output);
  try {
    command.parse(normaliseGoFlags(argv), { from: "user" });
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version"
      ) {
        return { kind: "exit", code: 0, stdout: output.out, stderr: "" };
      }
      if (error.code === "commander.excessArguments") {
        return usage(
          `unexpected argument ${
            JSON.stringify(command.args[0] ?? "")
          }: flags take the form -name, -name=value or -name value`,
        );
      }
      return usage(commanderMessage(error));
    }
    throw error;
  }
  const opts = command.opts();
  const explicit = MODE_FLAGS.some((name) =>
    command.getOptionValueSource(name) === "cli" && opts[name] === true
  );
  // Explicit mode: a source runs when enabled (iptables by default, as in
  // Go). Auto mode: a source may run when detected, unless switched off.
  const enabled = (value: boolean | undefined, byDefault: boolean) =>
    value ?? byDefault;
  const docker = enabled(opts.docker, !explicit);
  const containerd = enabled(opts.containerd, !explicit);
  const iptables = enabled(opts.iptables, true);
  const kubernetes = enabled(opts.kubernetes, !explicit);
  const procnet = enabled(opts.procnet, !explicit);
  if (explicit && docker && containerd) {
    return usage(
      "-docker and -containerd cannot both be set: accepted is one container engine, the one the VM runs",
    );
  }
  let dockerSocket = opts.dockerSocket ?? DEFAULT_OPTIONS.dockerSocket;
  if (opts.dockerSocket === undefined && env.DOCKER_HOST) {
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
  const privilegedService = opts.privilegedService === true;
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
      debug: opts.debug === true,
      logFormat: opts.logFormat,
      dryRun: opts.dryRun === true,
      docker,
      dockerSocket,
      containerd,
      containerdSocket: opts.containerdSock,
      iptables,
      kubernetes,
      kubeconfig: opts.kubeconfig,
      procnet,
      nerdctlDataRoot: opts.nerdctlDataRoot,
      controlSocket: opts.controlSocket,
      iptablesIntervalMs: opts.iptablesInterval,
      iptablesResyncMs: opts.iptablesResync,
      procnetIntervalMs: opts.procnetInterval,
      ignorePorts: opts.ignorePort,
      privilegedService,
      vtunnelAddr: opts.vtunnelAddr,
      connectInterface: opts.connectInterface,
      k8sServiceListenerAddr: opts.k8sServiceListenerAddr,
      adminInstall: opts.adminInstall === true,
      k8sApiPort: opts.k8sApiPort,
      tapInterfaceIp: opts.tapInterfaceIp,
      hostSwitchUrl: opts.hostSwitchUrl,
      stateDir: opts.stateDir,
      shutdownTimeoutMs: opts.shutdownTimeout,
    },
  };
}
