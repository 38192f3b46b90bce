/**
 * One reader of arguments for every command line of the agent (the agent's
 * own, and the ports and status commands): long options from a table,
 * every boolean form, values inline or next, repeated options kept.
 *
 * @module
 */
import { type AnyOptionSpec, UsageError } from "../support/option_table.ts";
import { parseGoBoolean } from "./go_flags.ts";

/** What the arguments set: a value per option given (repeated ones: all), by long name. */
export type GivenOptions = Map<string, unknown>;

/**
 * Reads normalised arguments (long options; Go forms are rewritten before)
 * against an option table.
 *
 * @param args The arguments.
 * @param byName The table, by long name.
 * @returns What they set, or `"help"` or `"version"` when one was asked for.
 * @throws {UsageError} For an unknown flag, a missing or bad value.
 */
export function readArguments(
  args: readonly string[],
  byName: ReadonlyMap<string, AnyOptionSpec>,
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
        `Cannot read argument ${
          JSON.stringify(extra)
        }: flags take the form -name, -name=value or -name value`,
      );
    }
    // Go's flag package takes -name and --name alike; so do we.
    const match = /^--?([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    const flag = match?.[1] ?? "";
    const inline = match?.[2];
    const negated = flag.startsWith("no-")
      ? byName.get(flag.slice(3))
      : undefined;
    if (negated?.kind === "boolean" && !byName.has(flag)) {
      if (inline !== undefined) {
        throw new UsageError(
          `Cannot give --${flag} a value: use --${negated.name}=true or false`,
        );
      }
      given.set(negated.name, false);
      continue;
    }
    const spec = byName.get(flag);
    if (!match || !spec) {
      throw new UsageError(
        `Cannot read flag ${
          arg.split("=")[0]
        }: no such flag (see --help for the accepted flags)`,
      );
    }
    if (spec.kind === "boolean") {
      const value = inline === undefined ? true : parseGoBoolean(inline);
      if (value === undefined) {
        throw new UsageError(
          `Cannot use ${
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
        throw new UsageError(
          `Cannot read --${spec.name}: it needs a value (see --help)`,
        );
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
