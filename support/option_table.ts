/**
 * Command-line options as data: one spec per option, typed against the
 * options object it sets, so a spec cannot name a field that does not exist
 * or parse a value of the wrong type. The CLI (cli/cli.ts) reads the core
 * table and every source descriptor's table; the help text and the Go flag
 * forms come from the same specs.
 *
 * @module
 */
import { isPort } from "../binding/ip.ts";

/** Thrown for a command line that cannot be accepted; the CLI exits 2. */
export class UsageError extends Error {
  /** Creates the error; the message is the one line the user sees. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * What every option spec says, whatever its kind.
 *
 * @example Usage
 * ```ts
 * import type { OptionSpecBase } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const base: OptionSpecBase = {
 *   name: "debug",
 *   goName: "debug",
 *   help: "debug logging",
 * };
 * assert.equal(base.goName, "debug");
 * ```
 */
export interface OptionSpecBase {
  /** The long option without dashes, as in `containerd-sock`. */
  readonly name: string;
  /** The Go agent's name of the flag, as in `containerdSock` (Go forms accepted). */
  readonly goName?: string;
  /** One line of help. */
  readonly help: string;
  /** The value's placeholder in the help text, as in `<path>`. */
  readonly valueName?: string;
  /** Help of `--no-<name>`, for booleans that list it. */
  readonly negation?: string;
  /** The default as the help shows it. @default the default value, quoted */
  readonly shownDefault?: string;
}

/**
 * The spec of the option that sets `options[K]`:
 * - a boolean field: `--name`, `-name`, `--name=true|1|t` set it, and
 *   `--name=false|0|f`, `--no-name` clear it;
 * - an array field: every `--name value` is kept, in order (`parse` checks
 *   one value);
 * - any other field: `--name value` or `--name=value`, the last one wins
 *   (`parse` checks and converts it).
 *
 * @example Usage
 * ```ts
 * import type { OptionSpecFor } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const spec: OptionSpecFor<{ readonly debug: boolean }, "debug"> = {
 *   key: "debug",
 *   name: "debug",
 *   kind: "boolean",
 *   help: "debug logging",
 * };
 * assert.equal(spec.kind, "boolean");
 * ```
 */
export type OptionSpecFor<O, K extends keyof O & string> = O[K] extends boolean
  ? OptionSpecBase & { readonly key: K; readonly kind: "boolean" }
  : O[K] extends readonly (infer Item)[] ? OptionSpecBase & {
      readonly key: K;
      readonly kind: "repeated";
      readonly parse: (value: string) => Item;
    }
  : OptionSpecBase & {
    readonly key: K;
    readonly kind: "value";
    readonly parse: (value: string) => O[K];
  };

/**
 * The spec of any one option of the options object `O`.
 *
 * @example Usage
 * ```ts
 * import type { OptionSpec } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const spec: OptionSpec<{ readonly retries: number }> = {
 *   key: "retries",
 *   name: "retries",
 *   kind: "value",
 *   valueName: "<count>",
 *   help: "how many times to retry",
 *   parse: (value) => Number(value),
 * };
 * assert.equal(spec.kind === "value" && spec.parse("3"), 3);
 * ```
 */
export type OptionSpec<O> = { [K in keyof O & string]: OptionSpecFor<O, K> }[
  keyof O & string
];

/**
 * An option spec with its options type forgotten (the CLI's view of every table).
 *
 * @example Usage
 * ```ts
 * import { type AnyOptionSpec, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const specs: AnyOptionSpec[] = SOURCES.flatMap((source) => source.options as AnyOptionSpec[]);
 * assert(specs.some((spec) => spec.name === "docker-socket"));
 * ```
 */
export interface AnyOptionSpec extends OptionSpecBase {
  /** The options field it sets. */
  readonly key: string;
  /** How it takes its value. */
  readonly kind: "boolean" | "repeated" | "value";
  /** Checks and converts one value; throws UsageError naming the flag. */
  readonly parse?: (value: string) => unknown;
}

/** How a spec names its flag in messages: the Go form where Go has one. */
export function flagLabel(spec: { name: string; goName?: string }): string {
  return spec.goName ? `-${spec.goName}` : `--${spec.name}`;
}

function invalid(value: string, flag: string, accepted: string): UsageError {
  return new UsageError(
    `Cannot use ${
      JSON.stringify(value)
    } for ${flag}: accepted values are ${accepted}`,
  );
}

/** A port number 1 to 65535. */
export function portValue(flag: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || !isPort(port)) {
      throw invalid(value, flag, "integers from 1 to 65535");
    }
    return port;
  };
}

/** Whole milliseconds from `min` to a day. */
export function msValue(flag: string, min: number): (value: string) => number {
  return (value) => {
    const ms = Number(value);
    if (!/^\d+$/.test(value) || ms < min || ms > 86_400_000) {
      throw invalid(value, flag, `whole milliseconds from ${min}`);
    }
    return ms;
  };
}

/** A whole number from `min` to `max`. */
export function countValue(
  flag: string,
  min: number,
  max: number,
): (value: string) => number {
  return (value) => {
    const count = Number(value);
    if (!/^\d+$/.test(value) || count < min || count > max) {
      throw invalid(value, flag, `whole numbers from ${min} to ${max}`);
    }
    return count;
  };
}

/** A file path (not empty, no NUL). */
export function pathValue(flag: string): (value: string) => string {
  return (value) => {
    if (value === "" || value.includes("\0")) {
      throw new UsageError(
        `Cannot use that value for ${flag}: accepted values are file paths`,
      );
    }
    return value;
  };
}

/** One of `choices`. */
export function choiceValue<T extends string>(
  flag: string,
  choices: readonly T[],
): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw invalid(value, flag, choices.join(", "));
    }
    return value as T;
  };
}

/** Any text, as given. */
export function textValue(value: string): string {
  return value;
}

/**
 * The options type of a descriptor (a source's or a forwarder's).
 *
 * @example Usage
 * ```ts
 * import { type OptionsOf, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * type DockerOptions = OptionsOf<typeof SOURCES[0]>;
 * const options: DockerOptions = SOURCES[0].defaults;
 * assert.equal(options.docker, true);
 * ```
 */
export type OptionsOf<D> = D extends { readonly defaults: infer O } ? O
  : never;

/**
 * One type with every member of the union `U` (A | B → A & B).
 *
 * @example Usage
 * ```ts
 * import type { Intersection } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const both: Intersection<{ a: number } | { b: string }> = { a: 1, b: "x" };
 * assert.equal(both.b, "x");
 * ```
 */
export type Intersection<U> =
  (U extends unknown ? (all: U) => void : never) extends (all: infer I) => void
    ? I
    : never;
