/**
 * A forwarder that only logs: the forwarding table as it changes.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { type Clock, systemClock, type TimerId } from "../support/clock.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import { describeOwners } from "../tracker/describe_owners.ts";
import type { Forwarder } from "./forwarder.ts";

/**
 * Options of {@linkcode LogForwarder}.
 *
 * @example Usage
 * ```ts
 * import { FakeClock, LogForwarder, type LogForwarderOptions } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const options: LogForwarderOptions = { tableDelayMs: 500, clock: new FakeClock() };
 * assert.equal(new LogForwarder("log", options).name, "log");
 * ```
 */
export interface LogForwarderOptions {
  /** Log the whole table this long after the last change, in ms. @default 200 */
  readonly tableDelayMs?: number;
  /** Time source. @default systemClock */
  readonly clock?: Clock;
}

/**
 * Logs each binding it would forward and, after a burst of changes, the
 * whole table. Auto mode uses it, and `--dry-run` puts one in place of each
 * real forwarder.
 *
 * @example Usage
 * ```ts
 * import { LogForwarder } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * // Auto mode's forwarder, and every forwarder's stand-in with --dry-run.
 * const forwarder = new LogForwarder("privileged-service");
 * assert.equal(forwarder.onlyLogs, true);
 * ```
 */
export class LogForwarder implements Forwarder {
  /** The forwarder's name (the real forwarder's name in a dry run). */
  readonly name: string;
  /** It only logs: `ports` shows its bindings as logged, not forwarded. */
  readonly onlyLogs = true;
  #table = new Map<string, TrackedBinding>();
  #logger: Logger;
  #clock: Clock;
  #delayMs: number;
  #timer: TimerId | undefined;

  /**
   * Creates a logging forwarder.
   *
   * @param name Name in logs.
   * @param options Table delay and clock.
   */
  constructor(name = "log", options: LogForwarderOptions = {}) {
    this.name = name;
    this.#logger = getLogger(["guest-agent", "forwarder", name]);
    this.#clock = options.clock ?? systemClock;
    this.#delayMs = options.tableDelayMs ?? 200;
  }

  /** Records and logs one binding. */
  add(binding: TrackedBinding): Promise<void> {
    this.#table.set(binding.key, binding);
    this.#logger.debug("{forwarder}: forward {key} (held by {owners})", {
      forwarder: this.name,
      key: binding.key,
      owners: describeOwners(binding),
    });
    this.#scheduleTable();
    return Promise.resolve();
  }

  /** Drops and logs one binding. */
  remove(binding: TrackedBinding): Promise<void> {
    this.#table.delete(binding.key);
    this.#logger.debug("{forwarder}: stop forwarding {key}", {
      forwarder: this.name,
      key: binding.key,
    });
    this.#scheduleTable();
    return Promise.resolve();
  }

  /** The keys it holds, sorted. */
  keys(): string[] {
    return [...this.#table.keys()].sort();
  }

  /** Cancels the pending table line. */
  close(): Promise<void> {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  #scheduleTable(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      const rows = [...this.#table.values()]
        .sort((a, b) => a.key.localeCompare(b.key))
        .map((binding) => `${binding.key} <- ${describeOwners(binding)}`);
      this.#logger.info("{forwarder}: forwarding table ({count}): {table}", {
        forwarder: this.name,
        count: rows.length,
        table: rows.length === 0 ? "empty" : rows.join("; "),
      });
    }, this.#delayMs);
  }
}
