/**
 * Go `flag` syntax, turned into ordinary long options, so the agent accepts
 * every form the Go agent's launchers use.
 *
 * @module
 */
import { type AnyOptionSpec, UsageError } from "../support/option_table.ts";
import { SOURCES } from "../sources/registry.ts";
import { allOptionSpecs } from "../agent/options.ts";

/** A flag of the Go agent: its name there, our long option, and whether it is boolean. */
export interface GoFlag {
  /** The Go name, as in `-containerdSock`. */
  readonly goName: string;
  /** Our long option without dashes, as in `containerd-sock`. */
  readonly longName: string;
  /** Boolean flags take no separate value. */
  readonly boolean: boolean;
}

/** Every flag of the Go agent (docs/protocols.md, "Flags of the Go agent"), from the option tables. */
export const GO_FLAGS: readonly GoFlag[] = goFlagsOf(allOptionSpecs(SOURCES));

/** The Go flags among `specs`: those that have a Go name. */
export function goFlagsOf(specs: readonly AnyOptionSpec[]): GoFlag[] {
  return specs.flatMap((spec) =>
    spec.goName === undefined ? [] : [{
      goName: spec.goName,
      longName: spec.name,
      boolean: spec.kind === "boolean",
    }]
  );
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
 * @param goFlags The Go flags to rewrite.
 * @returns The rewritten arguments.
 * @throws {UsageError} For a boolean flag whose value is not a Go boolean.
 */
export function normaliseGoFlags(
  argv: readonly string[],
  goFlags: readonly GoFlag[] = GO_FLAGS,
): string[] {
  const byName = new Map<string, GoFlag>();
  for (const flag of goFlags) {
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
        `Cannot use ${
          JSON.stringify(value)
        } for -${flag.goName}: accepted values are true and false`,
      );
    }
  }
  return out;
}
