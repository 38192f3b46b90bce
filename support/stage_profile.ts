/**
 * Stage profiling: where the time goes between a source seeing a change and
 * the forwarder sending it. Every stage is stamped with
 * {@linkcode wallClockMs}, the one clock workers and the main thread share,
 * so a benchmark can line the stamps up with its own (the engine's event,
 * the receiver's read) without strace, which inflates every call.
 *
 * Off by default, and then it costs one check per message. On (main.ts:
 * `GUEST_AGENT_STAGE_PROFILE=<file>`), workers stamp what they see and post
 * (`stages` in upsert and remove messages) and the main thread stamps its
 * own steps per binding that appears, until the forwarder's call resolves;
 * the traces are written to the file when the agent stops
 * (docs/benchmarks.md reads them through bench/go_agent_figures.ts).
 *
 * @module
 */
import { wallClockMs } from "./clock.ts";

/**
 * Stage name → wall-clock ms ({@linkcode wallClockMs}) when it was reached.
 *
 * @example Usage
 * ```ts
 * import type { StageStamps } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const stamps: StageStamps = { seen: 1_000, posted: 1_001 };
 * assert.equal(stamps.posted! - stamps.seen!, 1);
 * ```
 */
export type StageStamps = Readonly<Record<string, number>>;

/** Most stamps one message may carry (checked in sources/messages.ts). */
export const MAX_STAGE_STAMPS = 16;
/** Longest stage name. */
export const MAX_STAGE_NAME_LENGTH = 40;

/**
 * One binding's way from the source to its forwarder.
 *
 * @example Usage
 * ```ts
 * import { StageProfile, type StageTrace } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const profile = new StageProfile();
 * profile.open("tcp/0.0.0.0:80", "docker", { seen: 1_000 });
 * profile.close("tcp/0.0.0.0:80", "delivered");
 * const [trace]: readonly StageTrace[] = profile.traces();
 * assert.equal(trace!.source, "docker");
 * ```
 */
export interface StageTrace {
  /** The binding's key (e.g. `tcp/0.0.0.0:8080`). */
  readonly key: string;
  /** The source that reported it. */
  readonly source: string;
  /** The stamps, in the order they were taken. */
  readonly stamps: StageStamps;
}

/** Traces kept at most: a profile is for a benchmark, not for a lifetime. */
const MAX_TRACES = 10_000;

/**
 * The main thread's half: a trace opens when a binding appears in the
 * tracker (with the stamps its message carried), each later step marks it,
 * and the forwarder call's end closes it.
 *
 * @example Usage
 * ```ts
 * import { StageProfile } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const profile = new StageProfile();
 * profile.open("tcp/0.0.0.0:80", "docker", { seen: 1_000 });
 * profile.mark("tcp/0.0.0.0:80", "queued", 1_002);
 * profile.close("tcp/0.0.0.0:80", "delivered");
 * assert.equal(profile.traces()[0]!.stamps.queued, 1_002);
 * ```
 */
export class StageProfile {
  readonly #open = new Map<string, StageTrace & { stamps: StageStamps }>();
  readonly #done: StageTrace[] = [];

  /**
   * Opens a trace for `key` with the stamps so far. A key already open, or
   * a profile that is full, is left as it is.
   */
  open(key: string, source: string, stamps: StageStamps): void {
    if (this.#open.has(key)) return;
    if (this.#open.size + this.#done.length >= MAX_TRACES) return;
    this.#open.set(key, { key, source, stamps: { ...stamps } });
  }

  /** Stamps `stage` on the open trace of `key` (once; later stamps of it are dropped). */
  mark(key: string, stage: string, at: number = wallClockMs()): void {
    const trace = this.#open.get(key);
    if (trace === undefined || stage in trace.stamps) return;
    (trace.stamps as Record<string, number>)[stage] = at;
  }

  /** Stamps `stage` and closes the trace of `key`. */
  close(key: string, stage: string): void {
    const trace = this.#open.get(key);
    if (trace === undefined) return;
    this.mark(key, stage);
    this.#open.delete(key);
    this.#done.push(trace);
  }

  /** The closed traces, oldest first. */
  traces(): readonly StageTrace[] {
    return this.#done;
  }
}

let stamping = false;

/** Turns the stamping of this thread's source messages on (a worker's start message says so). */
export function setStageStamping(on: boolean): void {
  stamping = on;
}

/** Whether this thread stamps its source messages. */
export function stageStamping(): boolean {
  return stamping;
}

/**
 * `stamps` with `stage` stamped now, when stamping is on; otherwise
 * undefined (callers add no field then).
 */
export function stampedNow(
  stamps: StageStamps | undefined,
  stage: string,
): StageStamps | undefined {
  if (!stamping) return undefined;
  return { ...stamps, [stage]: wallClockMs() };
}
