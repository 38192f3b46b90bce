/**
 * The supervisor: one permission-scoped Web Worker per source, restarted
 * with capped backoff when it dies, its messages checked before use.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { backoffDelay, type BackoffOptions } from "../support/backoff.ts";
import {
  type Clock,
  systemClock,
  type TimerId,
  wallClockMs,
} from "../support/clock.ts";
import {
  type ControlMessage,
  MESSAGE_VERSION,
  parseSourceMessage,
  type PortMessage,
  type SourceMessage,
  type SourceState,
} from "./messages.ts";

/**
 * A source as the supervisor runs it.
 *
 * @example Usage
 * ```ts
 * import type { SupervisedSource } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const source: SupervisedSource = {
 *   name: "docker",
 *   module: new URL("./worker.ts", import.meta.url),
 *   permissions: { read: ["/var/run/docker.sock"] },
 *   config: { socketPath: "/var/run/docker.sock" },
 * };
 * assert.equal(source.name, "docker");
 * ```
 */
export interface SupervisedSource {
  /** The source's name; the tracker files its entries under it. */
  readonly name: string;
  /** The worker module. */
  readonly module: URL;
  /** The worker's permissions: exactly what the source needs. */
  readonly permissions: Deno.PermissionOptionsObject;
  /** The configuration sent in the start message. */
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * How one supervised source stands.
 *
 * @example Usage
 * ```ts ignore
 * import { DEFAULT_OPTIONS, type SourceStatus, startAgent } from "@guest-agent/agent";
 *
 * const agent = await startAgent({ ...DEFAULT_OPTIONS, controlSocket: "" });
 * const waiting: SourceStatus[] = agent.supervisor.status().filter((s) => s.state === "waiting");
 * for (const source of waiting) console.log(`${source.name}: ${source.reason}`);
 * await agent.stop();
 * ```
 */
export interface SourceStatus {
  /** The source. */
  readonly name: string;
  /** starting: worker created; running: it reported; restarting: waiting to restart; stopped. */
  readonly worker: "starting" | "running" | "restarting" | "stopped";
  /** What the source last said of its connection. */
  readonly state?: SourceState;
  /** Why, as the source said. */
  readonly reason?: string;
  /** Restarts so far. */
  readonly restarts: number;
  /** The last failure. */
  readonly lastError?: string;
  /** Clock time of the last snapshot, upsert or remove. */
  readonly lastEventAt?: number;
  /** The source's counters, as it last sent them (e.g. `mispredictions`). */
  readonly counters?: Readonly<Record<string, number>>;
}

/**
 * Options of {@linkcode SourceSupervisor}.
 *
 * @example Usage
 * ```ts
 * import type { SupervisorOptions } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const seen: string[] = [];
 * const options: SupervisorOptions = {
 *   onPortMessage: (source, message) => seen.push(`${source} ${message.type}`),
 *   backoff: { initialMs: 500, maxMs: 30_000 },
 * };
 * assert.equal(options.backoff?.initialMs, 500);
 * ```
 */
export interface SupervisorOptions {
  /** Receives every checked port message (snapshot, upsert, remove). */
  readonly onPortMessage: (source: string, message: PortMessage) => void;
  /** Workers post their debug records too. @default false */
  readonly debug?: boolean;
  /** Restart delays. @default 500 ms doubling to 30 s */
  readonly backoff?: BackoffOptions;
  /** A worker that ran this long before failing restarts from the first delay. @default 60000 */
  readonly stableAfterMs?: number;
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /**
   * Workers stamp their port messages' stages, and the supervisor adds
   * `received` (support/stage_profile.ts). @default false
   */
  readonly stampStages?: boolean;
}

interface Slot {
  source: SupervisedSource;
  worker: Worker | undefined;
  startedAt: number;
  /** Failures since the worker last ran stably. */
  failuresInRow: number;
  stopped?: () => void;
  status: {
    -readonly [K in keyof SourceStatus]: SourceStatus[K];
  };
  restartTimer?: TimerId;
}

function newSlot(source: SupervisedSource): Slot {
  return {
    source,
    worker: undefined,
    startedAt: 0,
    failuresInRow: 0,
    status: { name: source.name, worker: "stopped", restarts: 0 },
  };
}

function preview(data: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(data) ?? String(data);
  } catch {
    text = String(data);
  }
  return text.length > 200
    ? `${text.slice(0, 200)}… (${text.length} chars)`
    : text;
}

/**
 * Runs each source in its own Web Worker with its own permissions. A worker
 * that throws, or reports a fatal error, is terminated and restarted with
 * capped exponential backoff; the tracker keeps its last state meanwhile
 * (the next snapshot converges it). Messages are checked with
 * {@linkcode parseSourceMessage}: a malformed one is logged and dropped.
 *
 * @example Usage
 * ```ts ignore
 * import { SourceSupervisor } from "@guest-agent/agent";
 *
 * const supervisor = new SourceSupervisor([{
 *   name: "docker",
 *   module: new URL("./sources/docker/worker.ts", import.meta.url),
 *   permissions: { read: ["/var/run/docker.sock"], write: ["/var/run/docker.sock"] },
 *   config: { socketPath: "/var/run/docker.sock" },
 * }], { onPortMessage: (source, message) => console.log(source, message.type) });
 * supervisor.start();
 * await supervisor.stop();
 * ```
 */
export class SourceSupervisor {
  #slots = new Map<string, Slot>();
  #options: SupervisorOptions;
  #clock: Clock;
  #logger: Logger;
  #stopping = false;
  /** Replaced workers still stopping. */
  #retiring = new Map<Worker, Promise<void>>();
  /** Sources whose replaced worker had to be terminated. */
  #terminatedReplaced: string[] = [];

  /**
   * Prepares the sources; {@linkcode SourceSupervisor.start} starts them.
   *
   * @param sources The sources to run, with unique names.
   * @param options Where messages go, backoff, clock, logging.
   */
  constructor(
    sources: readonly SupervisedSource[],
    options: SupervisorOptions,
  ) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = getLogger(["guest-agent", "supervisor"]);
    for (const source of sources) {
      if (this.#slots.has(source.name)) {
        throw new TypeError(
          `Cannot supervise ${source.name}: it is supervised already`,
        );
      }
      this.#slots.set(source.name, newSlot(source));
    }
  }

  /** Starts every worker. */
  start(): void {
    for (const slot of this.#slots.values()) this.#spawn(slot);
  }

  /**
   * Runs `source` in place of the running source of the same name (or adds
   * it): the old worker's messages are ignored from now on, it is asked to
   * stop and terminated after `graceMs`; the new worker starts at once. The
   * tracker keeps the source's ports until the new worker's snapshot.
   */
  replace(source: SupervisedSource, graceMs = 2_000): void {
    if (this.#stopping) return;
    let slot = this.#slots.get(source.name);
    if (slot === undefined) {
      slot = newSlot(source);
      this.#slots.set(source.name, slot);
    } else {
      if (slot.restartTimer !== undefined) {
        this.#clock.clearTimeout(slot.restartTimer);
        delete slot.restartTimer;
      }
      const old = slot.worker;
      slot.worker = undefined;
      if (old !== undefined) this.#retire(old, slot.source.name, graceMs);
      slot.source = source;
      slot.failuresInRow = 0;
      delete slot.status.state;
      delete slot.status.reason;
    }
    this.#spawn(slot);
  }

  /**
   * Asks a replaced worker to stop and terminates it after `graceMs` if it
   * has not; {@linkcode SourceSupervisor.stop} waits for it.
   */
  #retire(worker: Worker, name: string, graceMs: number): void {
    const done = new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#logger.warn(
          "{source}: the replaced worker did not stop within {graceMs} ms; terminated",
          { source: name, graceMs },
        );
        this.#terminatedReplaced.push(`${name} (replaced)`);
        worker.terminate();
        resolve();
      }, graceMs);
      worker.onmessage = (event) => {
        if (event.data?.type !== "stopped") return;
        this.#clock.clearTimeout(timer);
        worker.terminate();
        resolve();
      };
    }).finally(() => this.#retiring.delete(worker));
    this.#retiring.set(worker, done);
    worker.postMessage({ v: MESSAGE_VERSION, type: "stop" });
  }

  /** How each source stands. */
  status(): SourceStatus[] {
    return [...this.#slots.values()].map((slot) => ({ ...slot.status }));
  }

  /**
   * Asks every worker to stop, waits up to `graceMs`, then terminates them.
   *
   * @returns The sources whose workers did not stop in time (terminated).
   */
  async stop(graceMs = 2_000): Promise<string[]> {
    this.#stopping = true;
    const stop: ControlMessage = { v: MESSAGE_VERSION, type: "stop" };
    const stopped: Promise<void>[] = [];
    for (const slot of this.#slots.values()) {
      if (slot.restartTimer !== undefined) {
        this.#clock.clearTimeout(slot.restartTimer);
        delete slot.restartTimer;
      }
      if (slot.worker === undefined) continue;
      stopped.push(new Promise((resolve) => slot.stopped = resolve));
      slot.worker.postMessage(stop);
    }
    let timer: TimerId | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(stopped), grace]);
    if (timer !== undefined) this.#clock.clearTimeout(timer);
    await Promise.all(this.#retiring.values());
    const terminated = [...this.#terminatedReplaced];
    for (const slot of this.#slots.values()) {
      if (slot.worker && slot.stopped) {
        terminated.push(slot.source.name);
        this.#logger.warn(
          "{source} did not stop within {graceMs} ms; terminated",
          {
            source: slot.source.name,
            graceMs,
          },
        );
      }
      slot.worker?.terminate();
      slot.worker = undefined;
      slot.status.worker = "stopped";
    }
    return terminated;
  }

  #spawn(slot: Slot): void {
    const { source } = slot;
    let worker: Worker;
    try {
      worker = new Worker(source.module, {
        type: "module",
        name: `source:${source.name}`,
        deno: { permissions: source.permissions },
      });
    } catch (error) {
      this.#failed(
        slot,
        `cannot create its worker: ${(error as Error).message}`,
      );
      return;
    }
    slot.worker = worker;
    slot.startedAt = this.#clock.now();
    slot.status.worker = "starting";
    worker.onmessage = (event) => this.#received(slot, worker, event.data);
    worker.onmessageerror = () =>
      this.#logger.error("{source}: a message could not be deserialised", {
        source: source.name,
      });
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failed(
        slot,
        `its worker threw: ${event.message ?? "unknown error"}`,
        worker,
      );
    };
    const start: ControlMessage = {
      v: MESSAGE_VERSION,
      type: "start",
      config: source.config,
      debug: this.#options.debug ?? false,
      ...this.#options.stampStages ? { profile: true } : {},
    };
    worker.postMessage(start);
  }

  #received(slot: Slot, worker: Worker, data: unknown): void {
    if (slot.worker !== worker) return;
    const receivedAt = this.#options.stampStages ? wallClockMs() : 0;
    const name = slot.source.name;
    let message: SourceMessage;
    try {
      message = parseSourceMessage(data);
    } catch (error) {
      this.#logger.error(
        "{source}: dropped a malformed message ({error}): {input}",
        { source: name, error: (error as Error).message, input: preview(data) },
      );
      return;
    }
    slot.status.worker = "running";
    switch (message.type) {
      case "status":
        if (slot.status.state !== message.state) {
          this.#logger.info("{source} is {state}{reason}", {
            source: name,
            state: message.state,
            reason: message.reason ? `: ${message.reason}` : "",
          });
        }
        slot.status.state = message.state;
        if (message.reason !== undefined) slot.status.reason = message.reason;
        else delete slot.status.reason;
        break;
      case "counters":
        slot.status.counters = message.counters;
        break;
      case "error":
        this.#failed(slot, message.message, worker);
        break;
      case "log":
        this.#sourceLog(name, message);
        break;
      case "stopped":
        slot.worker = undefined;
        worker.terminate();
        slot.status.worker = "stopped";
        slot.stopped?.();
        delete slot.stopped;
        break;
      default:
        slot.status.lastEventAt = this.#clock.now();
        if (
          this.#options.stampStages && message.type !== "snapshot" &&
          message.stages !== undefined
        ) {
          message = {
            ...message,
            stages: {
              ...message.stages,
              received: receivedAt,
              checked: wallClockMs(),
            },
          };
        }
        this.#options.onPortMessage(name, message);
    }
  }

  /** Logs a worker's record under guest-agent·source·<name>. */
  #sourceLog(name: string, record: Extract<SourceMessage, { type: "log" }>) {
    const logger = getLogger(["guest-agent", "source", name]);
    const { message, properties } = record;
    switch (record.level) {
      case "debug":
        return logger.debug(message, properties);
      case "info":
        return logger.info(message, properties);
      case "warning":
        return logger.warn(message, properties);
      case "error":
        return logger.error(message, properties);
    }
  }

  #failed(slot: Slot, reason: string, worker?: Worker): void {
    if (worker !== undefined && slot.worker !== worker) return;
    slot.worker?.terminate();
    slot.worker = undefined;
    slot.status.lastError = reason;
    if (this.#stopping) {
      slot.status.worker = "stopped";
      slot.stopped?.();
      delete slot.stopped;
      return;
    }
    const ranMs = this.#clock.now() - slot.startedAt;
    const stableAfter = this.#options.stableAfterMs ?? 60_000;
    if (ranMs >= stableAfter) slot.failuresInRow = 0;
    const delay = backoffDelay(slot.failuresInRow++, {
      initialMs: 500,
      ...this.#options.backoff,
    });
    slot.status.worker = "restarting";
    slot.status.restarts++;
    this.#logger.error(
      "{source} failed ({reason}); restarting in {delay} ms, keeping its ports meanwhile",
      { source: slot.source.name, reason, delay },
    );
    slot.restartTimer = this.#clock.setTimeout(() => {
      delete slot.restartTimer;
      if (!this.#stopping) this.#spawn(slot);
    }, delay);
  }
}
