/**
 * Messages between source workers and the main thread: one union each way,
 * versioned, and a guard the main thread runs before trusting anything.
 *
 * @module
 */
import { makeBinding, type PortEntry } from "../binding/binding.ts";
import { isPort } from "../binding/ip.ts";
import {
  MAX_STAGE_NAME_LENGTH,
  MAX_STAGE_STAMPS,
  type StageStamps,
} from "../support/stage_profile.ts";
import {
  type LogProperties,
  type LogValue,
  MAX_LOG_PROPERTIES,
  MAX_LOG_VALUE_LENGTH,
  type SourceLogLevel,
} from "./source_log.ts";

/**
 * Version of the message format; a worker of another version is refused.
 *
 * @example Usage
 * ```ts
 * import { MESSAGE_VERSION, parseSourceMessage } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => parseSourceMessage({ v: MESSAGE_VERSION + 1, type: "stopped" }), TypeError);
 * ```
 */
export const MESSAGE_VERSION = 1;

/**
 * How a source's connection to what it watches stands.
 *
 * @example Usage
 * ```ts
 * import type { SourceState } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const state: SourceState = "reconnecting";
 * assert.notEqual(state, "connected");
 * ```
 */
export type SourceState = "connected" | "waiting" | "reconnecting";

/**
 * A message from a source worker to the main thread.
 *
 * @example Usage
 * ```ts
 * import { MESSAGE_VERSION, type SourceMessage } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const status: SourceMessage = { v: MESSAGE_VERSION, type: "status", state: "waiting", reason: "no /var/run/docker.sock" };
 * assert.equal(status.type, "status");
 * ```
 */
export type SourceMessage =
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** Every entry the source has now; replaces its earlier state. */
    readonly type: "snapshot";
    /** The entries. */
    readonly entries: readonly PortEntry[];
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** Every entry of one owner; replaces that owner's earlier entries. */
    readonly type: "upsert";
    /** The owner. */
    readonly ownerId: string;
    /** The entries, each naming `ownerId`. */
    readonly entries: readonly PortEntry[];
    /** When the source saw the change: wall-clock ms (support/clock.ts `wallClockMs`) in the worker. */
    readonly observedAt?: number;
    /** Stage stamps, only when the agent profiles (support/stage_profile.ts). */
    readonly stages?: StageStamps;
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** One owner is gone with all its entries. */
    readonly type: "remove";
    /** The owner. */
    readonly ownerId: string;
    /** When the source saw the change: wall-clock ms (support/clock.ts `wallClockMs`) in the worker. */
    readonly observedAt?: number;
    /** Stage stamps, only when the agent profiles (support/stage_profile.ts). */
    readonly stages?: StageStamps;
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** The source's connection changed state. */
    readonly type: "status";
    /** The new state. */
    readonly state: SourceState;
    /** Why, for people. */
    readonly reason?: string;
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** The source's counters now (e.g. Docker's `mispredictions`), for `status`. */
    readonly type: "counters";
    /** Each counter's value: a name and a whole number. */
    readonly counters: Readonly<Record<string, number>>;
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** Answer to "stop": the source has released everything and closes. */
    readonly type: "stopped";
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** The source cannot go on; the supervisor restarts the worker. */
    readonly type: "error";
    /** What went wrong. */
    readonly message: string;
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** A log record; the main thread logs it under the source's name. */
    readonly type: "log";
    /** How serious. */
    readonly level: SourceLogLevel;
    /** The message template, with `{name}` placeholders. */
    readonly message: string;
    /** The placeholders' values. */
    readonly properties: LogProperties;
  };

/**
 * The source messages that change ports: snapshot, upsert, remove.
 *
 * @example Usage
 * ```ts
 * import { MESSAGE_VERSION, type PortMessage } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const removed: PortMessage = { v: MESSAGE_VERSION, type: "remove", ownerId: "c1" };
 * assert.equal(removed.type, "remove");
 * ```
 */
export type PortMessage = Extract<
  SourceMessage,
  { type: "snapshot" | "upsert" | "remove" }
>;

/**
 * A message from the main thread to a source worker.
 *
 * @example Usage
 * ```ts
 * import { type ControlMessage, MESSAGE_VERSION } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const start: ControlMessage = { v: MESSAGE_VERSION, type: "start", config: {}, debug: false };
 * assert.equal(start.type, "start");
 * ```
 */
export type ControlMessage =
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** Start watching with this configuration. */
    readonly type: "start";
    /** The source's own configuration (plain data). */
    readonly config: Readonly<Record<string, unknown>>;
    /** Post debug log records too. */
    readonly debug: boolean;
    /** Stamp port messages' stages (support/stage_profile.ts). */
    readonly profile?: boolean;
  }
  | {
    /** Format version. */
    readonly v: typeof MESSAGE_VERSION;
    /** Stop watching and release everything. */
    readonly type: "stop";
  };

/** Most entries one message may carry (1,000 containers × 100 ports). */
export const MAX_ENTRIES = 100_000;
const MAX_ID_LENGTH = 512;
const MAX_TEXT_LENGTH = 4_096;
const MAX_CONTAINER_IPS = 64;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.slice(0, 40))}`;
  }
  return typeof value === "object"
    ? "an object"
    : `${typeof value} ${String(value).slice(0, 40)}`;
}

function fail(what: string, value: unknown, expected: string): never {
  throw new TypeError(
    `Cannot accept ${what}: got ${describe(value)}, expected ${expected}`,
  );
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(what, value, "an object");
  }
  return value as Record<string, unknown>;
}

function text(value: unknown, what: string, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    fail(what, value, `a string of 1 to ${max} characters`);
  }
  return value;
}

/**
 * Checks one port entry from a worker and returns it normalised.
 *
 * @param value What the worker sent.
 * @returns The entry with a checked, normalised binding.
 * @throws {TypeError} Naming the first field that is wrong.
 */
export function parsePortEntry(value: unknown): PortEntry {
  const raw = record(value, "entry");
  const ownerId = text(raw.ownerId, "entry.ownerId", MAX_ID_LENGTH);
  const rawBinding = record(raw.binding, "entry.binding");
  const { protocol, hostIp, hostPort } = rawBinding;
  if (typeof protocol !== "string") {
    fail("entry.binding.protocol", protocol, '"tcp" or "udp"');
  }
  if (typeof hostIp !== "string") {
    fail("entry.binding.hostIp", hostIp, "an IP address string");
  }
  if (!isPort(hostPort)) {
    fail("entry.binding.hostPort", hostPort, "an integer from 1 to 65535");
  }
  const entry: {
    -readonly [K in keyof PortEntry]: PortEntry[K];
  } = { ownerId, binding: makeBinding(protocol, hostIp, hostPort) };
  if (raw.containerPort !== undefined) {
    if (!isPort(raw.containerPort)) {
      fail(
        "entry.containerPort",
        raw.containerPort,
        "an integer from 1 to 65535",
      );
    }
    entry.containerPort = raw.containerPort;
  }
  if (raw.containerIps !== undefined) {
    const ips = raw.containerIps;
    if (!Array.isArray(ips) || ips.length > MAX_CONTAINER_IPS) {
      fail(
        "entry.containerIps",
        ips,
        `an array of at most ${MAX_CONTAINER_IPS} addresses`,
      );
    }
    entry.containerIps = ips.map((ip) => text(ip, "entry.containerIps[]", 64));
  }
  if (raw.name !== undefined) {
    entry.name = text(raw.name, "entry.name", MAX_TEXT_LENGTH);
  }
  if (raw.namespace !== undefined) {
    entry.namespace = text(raw.namespace, "entry.namespace", MAX_TEXT_LENGTH);
  }
  return entry;
}

function entries(value: unknown): PortEntry[] {
  if (!Array.isArray(value) || value.length > MAX_ENTRIES) {
    fail("entries", value, `an array of at most ${MAX_ENTRIES} entries`);
  }
  return value.map((item, index) => {
    try {
      return parsePortEntry(item);
    } catch (error) {
      throw new TypeError(
        `Cannot accept entries[${index}]: ${(error as Error).message}`,
      );
    }
  });
}

/** Counters at most in one message. */
export const MAX_COUNTERS = 16;

function counters(value: unknown): Record<string, number> {
  const raw = record(value, "message.counters");
  const names = Object.keys(raw);
  if (names.length > MAX_COUNTERS) {
    fail("message.counters", value, `at most ${MAX_COUNTERS} counters`);
  }
  const checked: Record<string, number> = {};
  for (const name of names) {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(name)) {
      fail("counter name", name, "lower-case letters, digits and -");
    }
    const count = raw[name];
    if (!Number.isSafeInteger(count) || (count as number) < 0) {
      fail(`counter ${name}`, count, "a whole number from 0");
    }
    checked[name] = count as number;
  }
  return checked;
}

/**
 * The guard for messages from workers: checks shape, version and every
 * field, and returns the message normalised.
 *
 * @param data The `MessageEvent.data` a worker posted.
 * @returns The checked message.
 * @throws {TypeError} Naming what is wrong; the caller logs and drops it.
 *
 * @example Usage
 * ```ts
 * import { MESSAGE_VERSION, parseSourceMessage } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const message = parseSourceMessage({
 *   v: MESSAGE_VERSION,
 *   type: "upsert",
 *   ownerId: "c1",
 *   entries: [{ ownerId: "c1", binding: { protocol: "tcp", hostIp: "", hostPort: 80 } }],
 * });
 * assert(message.type === "upsert");
 * assert.equal(message.entries[0]!.binding.hostIp, "0.0.0.0");
 * assert.throws(() => parseSourceMessage({ v: MESSAGE_VERSION, type: "upsert" }), TypeError);
 * ```
 */
export function parseSourceMessage(data: unknown): SourceMessage {
  const raw = record(data, "message");
  if (raw.v !== MESSAGE_VERSION) {
    fail("message.v", raw.v, `version ${MESSAGE_VERSION}`);
  }
  const v = MESSAGE_VERSION;
  switch (raw.type) {
    case "snapshot":
      return { v, type: "snapshot", entries: entries(raw.entries) };
    case "upsert": {
      const ownerId = text(raw.ownerId, "message.ownerId", MAX_ID_LENGTH);
      const list = entries(raw.entries);
      const foreign = list.find((entry) => entry.ownerId !== ownerId);
      if (foreign) {
        fail(
          "upsert entry owner",
          foreign.ownerId,
          `owner ${JSON.stringify(ownerId)}`,
        );
      }
      return withTiming(
        { v, type: "upsert", ownerId, entries: list },
        raw,
      );
    }
    case "remove":
      return withTiming(
        {
          v,
          type: "remove",
          ownerId: text(raw.ownerId, "message.ownerId", MAX_ID_LENGTH),
        },
        raw,
      );
    case "status": {
      const state = raw.state;
      if (
        state !== "connected" && state !== "waiting" && state !== "reconnecting"
      ) {
        fail("message.state", state, "connected, waiting or reconnecting");
      }
      return raw.reason === undefined ? { v, type: "status", state } : {
        v,
        type: "status",
        state,
        reason: text(raw.reason, "message.reason", MAX_TEXT_LENGTH),
      };
    }
    case "counters":
      return { v, type: "counters", counters: counters(raw.counters) };
    case "stopped":
      return { v, type: "stopped" };
    case "error":
      return {
        v,
        type: "error",
        message: typeof raw.message === "string"
          ? raw.message.slice(0, MAX_TEXT_LENGTH)
          : fail("message.message", raw.message, "a string"),
      };
    case "log":
      return {
        v,
        type: "log",
        level: logLevel(raw.level),
        message: text(raw.message, "message.message", MAX_TEXT_LENGTH),
        properties: logProperties(raw.properties),
      };
    default:
      return fail(
        "message.type",
        raw.type,
        "snapshot, upsert, remove, status, counters, stopped, error or log",
      );
  }
}

function logLevel(value: unknown): SourceLogLevel {
  if (
    value !== "debug" && value !== "info" && value !== "warning" &&
    value !== "error"
  ) {
    fail("message.level", value, "debug, info, warning or error");
  }
  return value;
}

function logProperties(value: unknown): LogProperties {
  const raw = record(value, "message.properties");
  const keys = Object.keys(raw);
  if (keys.length > MAX_LOG_PROPERTIES) {
    fail(
      "message.properties",
      value,
      `at most ${MAX_LOG_PROPERTIES} properties`,
    );
  }
  const properties: [string, LogValue][] = [];
  for (const key of keys) {
    const item = raw[key];
    if (
      item !== null && typeof item !== "boolean" &&
      !(typeof item === "number" && Number.isFinite(item)) &&
      !(typeof item === "string" && item.length <= MAX_LOG_VALUE_LENGTH + 1)
    ) {
      fail(
        `message.properties.${key.slice(0, 40)}`,
        item,
        `a string of at most ${MAX_LOG_VALUE_LENGTH} characters, a finite number, a boolean or null`,
      );
    }
    properties.push([text(key, "a property name", MAX_ID_LENGTH), item]);
  }
  // fromEntries defines own properties: a "__proto__" key stays a key.
  return Object.fromEntries(properties);
}

function finite(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    fail(what, value, "a finite number");
  }
  return value;
}

function stageStamps(value: unknown): StageStamps {
  const raw = record(value, "message.stages");
  const keys = Object.keys(raw);
  if (keys.length > MAX_STAGE_STAMPS) {
    fail("message.stages", value, `at most ${MAX_STAGE_STAMPS} stamps`);
  }
  return Object.fromEntries(
    keys.map((key) => [
      text(key, "a stage name", MAX_STAGE_NAME_LENGTH),
      finite(raw[key], `message.stages.${key.slice(0, 40)}`),
    ]),
  );
}

/** `message` with the optional `observedAt` and `stages` of `raw`, checked. */
function withTiming<M extends object>(
  message: M,
  raw: Record<string, unknown>,
): M & { observedAt?: number; stages?: StageStamps } {
  return {
    ...message,
    ...raw.observedAt === undefined
      ? {}
      : { observedAt: finite(raw.observedAt, "message.observedAt") },
    ...raw.stages === undefined ? {} : { stages: stageStamps(raw.stages) },
  };
}

/**
 * The guard for messages from the main thread, run inside workers.
 *
 * @param data The `MessageEvent.data` the main thread posted.
 * @returns The checked message.
 * @throws {TypeError} Naming what is wrong.
 */
export function parseControlMessage(data: unknown): ControlMessage {
  const raw = record(data, "control message");
  if (raw.v !== MESSAGE_VERSION) {
    fail("control message.v", raw.v, `version ${MESSAGE_VERSION}`);
  }
  if (raw.type === "stop") return { v: MESSAGE_VERSION, type: "stop" };
  if (raw.type !== "start") {
    fail("control message.type", raw.type, "start or stop");
  }
  return {
    v: MESSAGE_VERSION,
    type: "start",
    config: record(raw.config, "control message.config"),
    debug: raw.debug === true,
    ...raw.profile === true ? { profile: true } : {},
  };
}
