/**
 * Logging for sources without a logging library in the worker: a source
 * calls a {@linkcode SourceLogger}; inside a worker the runtime sends each
 * record to the main thread, which logs it through its own setup (one
 * configuration, one sink, the worker's lines in order with its messages).
 * Workers load no logging library (a library costs RSS in every worker
 * that loads it; tests/worker_graph_test.ts keeps it out), and the level
 * and format are set in one place. Outside a worker (tests, a program
 * running a watcher in-process) records go to stderr as text unless a sink
 * is set.
 *
 * @module
 */
import { writeStderrSync } from "../support/stderr.ts";

/**
 * How serious a record is, as logtape names the levels.
 *
 * @example Usage
 * ```ts
 * import type { SourceLogLevel } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const level: SourceLogLevel = "warning";
 * assert.equal(level, "warning");
 * ```
 */
export type SourceLogLevel = "debug" | "info" | "warning" | "error";

/**
 * A value a record can carry: plain data that survives `postMessage`.
 *
 * @example Usage
 * ```ts
 * import type { LogValue } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const values: LogValue[] = ["web", 8080, true, null];
 * assert.equal(values.length, 4);
 * ```
 */
export type LogValue = string | number | boolean | null;

/**
 * The properties of a record, named by the `{name}` placeholders.
 *
 * @example Usage
 * ```ts
 * import type { LogProperties } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const properties: LogProperties = { name: "web", port: 8080 };
 * assert.equal(properties.port, 8080);
 * ```
 */
export type LogProperties = Readonly<Record<string, LogValue>>;

/** Where a source's records go. */
export type SourceLogSink = (
  level: SourceLogLevel,
  source: string,
  message: string,
  properties: LogProperties,
) => void;

/** The logger a source writes to; messages are templates with `{name}`. */
export interface SourceLogger {
  /** A detail for someone debugging. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Something worth knowing. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Something was skipped or degraded; the source goes on. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Something failed; the source goes on or retries. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** Most properties one record keeps; more are dropped. */
export const MAX_LOG_PROPERTIES = 32;
/** Longest string value a record keeps (a stack fits); longer is cut. */
export const MAX_LOG_VALUE_LENGTH = 16_384;

/**
 * Turns any property value into plain data: an Error becomes its stack
 * (or message), other objects their JSON (or their string), long strings
 * are cut to {@linkcode MAX_LOG_VALUE_LENGTH}.
 */
export function toLogValue(value: unknown): LogValue {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : String(value);
  }
  let text: string;
  if (typeof value === "string") text = value;
  else if (value instanceof Error) text = value.stack ?? value.message;
  else if (value === undefined) text = "undefined";
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > MAX_LOG_VALUE_LENGTH
    ? `${text.slice(0, MAX_LOG_VALUE_LENGTH)}…`
    : text;
}

/** The properties as plain data, at most {@linkcode MAX_LOG_PROPERTIES}. */
export function toLogProperties(
  properties: Record<string, unknown> = {},
): LogProperties {
  // fromEntries defines own properties: a "__proto__" key stays a key.
  return Object.fromEntries(
    Object.keys(properties).slice(0, MAX_LOG_PROPERTIES).map((
      key,
    ) => [key, toLogValue(properties[key])]),
  );
}

/** The message with each `{name}` replaced by its property (strings bare). */
export function renderLogMessage(
  message: string,
  properties: LogProperties,
): string {
  return message.replace(
    /\{([^{}]+)\}/g,
    (placeholder, name: string) =>
      Object.hasOwn(properties, name) ? String(properties[name]) : placeholder,
  );
}

const LEVEL_ABBREVIATIONS: Readonly<Record<SourceLogLevel, string>> = {
  debug: "DBG",
  info: "INF",
  warning: "WRN",
  error: "ERR",
};

/** The sink used until one is set: text lines on stderr, debug left out. */
export function stderrLogSink(
  level: SourceLogLevel,
  source: string,
  message: string,
  properties: LogProperties,
): void {
  if (level === "debug") return;
  writeStderrSync(
    `${new Date().toISOString()} [${LEVEL_ABBREVIATIONS[level]}] ` +
      `guest-agent·source·${source}: ${
        renderLogMessage(message, properties)
      }\n`,
  );
}

let sink: SourceLogSink = stderrLogSink;

/**
 * Sets where every source logger of this thread writes (the worker runtime
 * sets a sink that posts to the main thread).
 *
 * @param next The sink, or undefined for {@linkcode stderrLogSink}.
 */
export function setSourceLogSink(next: SourceLogSink | undefined): void {
  sink = next ?? stderrLogSink;
}

/**
 * The logger of one source. Records are turned into plain data when
 * written, and the sink is looked up then, so a logger made at import time
 * follows a later {@linkcode setSourceLogSink}.
 *
 * @param source The source's name (docker, iptables, …).
 */
export function sourceLogger(source: string): SourceLogger {
  const write =
    (level: SourceLogLevel) =>
    (message: string, properties?: Record<string, unknown>) =>
      sink(level, source, message, toLogProperties(properties));
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warning"),
    error: write("error"),
  };
}
