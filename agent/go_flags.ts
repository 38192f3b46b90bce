/**
 * Go `flag` syntax, turned into ordinary long options, so the agent accepts
 * every form the Go agent's launchers use.
 *
 * @module
 */

/** A flag of the Go agent: its name there, our long option, and whether it is boolean. */
export interface GoFlag {
  /** The Go name, as in `-containerdSock`. */
  readonly goName: string;
  /** Our long option without dashes, as in `containerd-sock`. */
  readonly longName: string;
  /** Boolean flags take no separate value. */
  readonly boolean: boolean;
}

/** Every flag of the Go agent (PROTOCOLS.md §1). */
export const GO_FLAGS: readonly GoFlag[] = [
  { goName: "debug", longName: "debug", boolean: true },
  { goName: "kubeconfig", longName: "kubeconfig", boolean: false },
  { goName: "iptables", longName: "iptables", boolean: true },
  { goName: "kubernetes", longName: "kubernetes", boolean: true },
  { goName: "docker", longName: "docker", boolean: true },
  { goName: "containerd", longName: "containerd", boolean: true },
  { goName: "containerdSock", longName: "containerd-sock", boolean: false },
  { goName: "vtunnelAddr", longName: "vtunnel-addr", boolean: false },
  {
    goName: "privilegedService",
    longName: "privileged-service",
    boolean: true,
  },
  {
    goName: "k8sServiceListenerAddr",
    longName: "k8s-service-listener-addr",
    boolean: false,
  },
  { goName: "adminInstall", longName: "admin-install", boolean: true },
  { goName: "k8sAPIPort", longName: "k8s-api-port", boolean: false },
  { goName: "tap-interface-ip", longName: "tap-interface-ip", boolean: false },
];

/** Thrown for a command line that cannot be accepted; the CLI exits 2. */
export class UsageError extends Error {
  /** Creates the error; the message is the one line the user sees. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const TRUE_WORDS = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/**
 * Reads a boolean value the way Go's `strconv.ParseBool` does (1, t, true,
 * 0, f, false in their usual cases).
 *
 * @returns The value, or undefined when `text` is not a Go boolean.
 */
export function parseGoBoolean(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

/**
 * Rewrites Go-style flags into long options: `-docker` and `--docker` →
 * `--docker`; `-docker=false` → `--no-docker`; `-vtunnelAddr=X` and
 * `-vtunnelAddr X` → `--vtunnel-addr=X` / `--vtunnel-addr X`. Anything else
 * passes through unchanged (the parser in cli.ts reports unknown flags). Parsing
 * stops at `--`.
 *
 * @param argv The arguments after the program name.
 * @returns The rewritten arguments.
 * @throws {UsageError} For a boolean flag whose value is not a Go boolean.
 */
export function normaliseGoFlags(argv: readonly string[]): string[] {
  const byName = new Map<string, GoFlag>();
  for (const flag of GO_FLAGS) {
    byName.set(flag.goName, flag);
    byName.set(flag.longName, flag);
  }
  const out: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--") {
      out.push(...argv.slice(index));
      break;
    }
    const match = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    const flag = match ? byName.get(match[1]!) : undefined;
    if (!match || !flag) {
      out.push(arg);
      continue;
    }
    const value = match[2];
    if (!flag.boolean) {
      out.push(
        value === undefined
          ? `--${flag.longName}`
          : `--${flag.longName}=${value}`,
      );
      continue;
    }
    if (value === undefined || TRUE_WORDS.has(value)) {
      out.push(`--${flag.longName}`);
    } else if (FALSE_WORDS.has(value)) out.push(`--no-${flag.longName}`);
    else {
      throw new UsageError(
        `invalid value ${
          JSON.stringify(value)
        } for -${flag.goName}: accepted values are true and false`,
      );
    }
  }
  return out;
}
