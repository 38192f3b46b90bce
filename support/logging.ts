/**
 * Logging setup of the main thread: the one configuration (level, text or
 * JSON lines, stderr). Workers load no logging library; their records come
 * to the main thread (sources/source_log.ts) and are logged here.
 *
 * @module
 */
import {
  configureSync,
  getTextFormatter,
  jsonLinesFormatter,
  type LogRecord,
  resetSync,
  type Sink,
} from "@logtape/logtape";
import { writeStderrSync } from "./stderr.ts";
import { escapeForTerminal } from "./terminal_text.ts";

/** Options of {@linkcode setupLogging}. */
export interface LoggingOptions {
  /** Log at debug level. @default false */
  readonly debug?: boolean;
  /** Write JSON lines instead of text. @default false */
  readonly json?: boolean;
  /** Where lines go. @default synchronous writes to stderr */
  readonly write?: (line: string) => void;
}

/**
 * Configures logtape for this thread: every category under "guest-agent"
 * at info (or debug), as text or JSON lines. Writes are synchronous, so the
 * last lines before exit are never lost. Calling it again replaces the setup.
 *
 * @param options Level, format and destination.
 */
export function setupLogging(options: LoggingOptions = {}): void {
  const write = options.write ?? writeStderrSync;
  const formatter = options.json ? jsonLinesFormatter : getTextFormatter({
    timestamp: "date-time-timezone",
    level: "ABBR",
    // Values come from sources (names, error texts): never raw control
    // characters on a terminal. JSON lines escape them by themselves.
    value: (value, inspect) =>
      escapeForTerminal(typeof value === "string" ? value : inspect(value)),
  });
  const sink: Sink = (record: LogRecord) => write(formatter(record));
  resetSync();
  configureSync({
    sinks: { main: sink },
    loggers: [
      {
        category: ["guest-agent"],
        lowestLevel: options.debug ? "debug" : "info",
        sinks: ["main"],
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["main"],
      },
    ],
  });
}
