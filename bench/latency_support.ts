/**
 * What the latency benchmarks share: a forwarder that timestamps each
 * owner's first add, the hook that records when the source saw a change and
 * when the main thread got it, and the report lines.
 *
 * @module
 */
import type { AgentOptions } from "../agent/options.ts";
import { type AgentDependencies, startAgent } from "../agent/run_agent.ts";
import type { Forwarder } from "../forwarding/forwarder.ts";
import { wallClockMs } from "../sources/messages.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** Records the first add per owner and wakes whoever waits for it. */
export class TimingForwarder implements Forwarder {
  /** The forwarder's name in logs. */
  readonly name = "timing";
  /** Wall-clock time of each owner's first add. */
  readonly addedAt: Map<string, number> = new Map();
  readonly #waiters = new Map<string, () => void>();

  /** Timestamps the owner's first add. */
  add(binding: TrackedBinding): Promise<void> {
    const at = wallClockMs();
    const owner = binding.holders[0]!.entry.ownerId;
    if (!this.addedAt.has(owner)) {
      this.addedAt.set(owner, at);
      this.#waiters.get(owner)?.();
    }
    return Promise.resolve();
  }

  /** Nothing to time. */
  remove(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves once `owner` has had an add. */
  added(owner: string): Promise<void> {
    if (this.addedAt.has(owner)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.set(owner, resolve));
  }
}

/** One owner's latencies in ms. */
export interface Latencies {
  /** Source saw the change → forwarder add. */
  readonly agentAdded: number;
  /** Source saw it → main thread received the message. */
  readonly worker: number;
  /** Main thread received it → forwarder add (tracker, queue). */
  readonly main: number;
}

/** When each owner's first non-empty upsert was seen and received. */
export class UpsertTimes {
  /** When the source saw it (the message's observedAt). */
  readonly observedAt: Map<string, number> = new Map();
  /** When the main thread received it. */
  readonly receivedAt: Map<string, number> = new Map();

  /** The `onSourceMessage` dependency of startAgent that fills the maps. */
  readonly hook: NonNullable<AgentDependencies["onSourceMessage"]> = (
    _source,
    message,
  ) => {
    if (
      message.type === "upsert" && message.entries.length > 0 &&
      message.observedAt !== undefined &&
      !this.observedAt.has(message.ownerId)
    ) {
      this.observedAt.set(message.ownerId, message.observedAt);
      this.receivedAt.set(message.ownerId, wallClockMs());
    }
  };

  /** The owner's latencies, given when its add happened. */
  latencies(owner: string, addedAt: number): Latencies {
    const observed = this.observedAt.get(owner)!;
    const received = this.receivedAt.get(owner)!;
    return {
      agentAdded: addedAt - observed,
      worker: received - observed,
      main: addedAt - received,
    };
  }
}

/** The p-th percentile (nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(
    sorted.length - 1,
    Math.ceil((p / 100) * sorted.length) - 1,
  );
  return sorted[Math.max(0, index)]!;
}

/** Writes one line. */
export function print(line: string, stream = Deno.stdout): void {
  stream.writeSync(new TextEncoder().encode(`${line}\n`));
}

/** Prints `label`, n, median, p99 and max of `values` in ms. */
export function report(label: string, values: readonly number[]): void {
  const f = (n: number) => n.toFixed(2).padStart(8);
  print(
    `${label.padEnd(44)} n=${values.length}  median ${
      f(percentile(values, 50))
    } ms  p99 ${f(percentile(values, 99))} ms  max ${
      f(Math.max(...values))
    } ms`,
  );
}

/** Prints a row per (label, samples, field). */
export function reportRows<T>(
  rows: readonly (readonly [string, readonly T[], keyof T])[],
): void {
  for (const [label, samples, field] of rows) {
    report(label, samples.map((sample) => sample[field] as number));
  }
}

/** Samples of containers started one at a time and ten at a time. */
export interface StartSamples<T> {
  /** One at a time, `count` of them. */
  readonly sequential: T[];
  /** Ten at a time, `count` of them. */
  readonly burst: T[];
}

/**
 * Starts one warm-up container, then `count` one at a time (ports from
 * 21000), then `count` ten at a time (ports from 22000).
 *
 * @param count Containers per series.
 * @param runOne Starts one container and measures it.
 */
export async function measureStarts<T>(
  count: number,
  runOne: (name: string, port: number) => Promise<T>,
): Promise<StartSamples<T>> {
  await runOne("warmup", 20999); // first round trips, worker message, JIT
  const sequential: T[] = [];
  for (let i = 0; i < count; i++) {
    sequential.push(await runOne(`seq${i}`, 21000 + i));
  }
  const burst: T[] = [];
  for (let i = 0; i < count; i += 10) {
    burst.push(
      ...await Promise.all(
        Array.from(
          { length: Math.min(10, count - i) },
          (_, j) => runOne(`burst${i + j}`, 22000 + i + j),
        ),
      ),
    );
  }
  return { sequential, burst };
}

/**
 * Times whole agent starts until `owners` owners have had an add (every
 * running container tracked), `runs` times.
 *
 * @returns The durations in ms.
 */
export async function measureAgentStarts(
  options: AgentOptions,
  owners: number,
  runs = 3,
): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < runs; i++) {
    const counter = new TimingForwarder();
    const start = performance.now();
    const agent = await startAgent(options, { forwarders: [counter] });
    while (counter.addedAt.size < owners) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    durations.push(performance.now() - start);
    await agent.stop();
  }
  return durations;
}

/**
 * Makes `steps` run at most once, and on Ctrl-C too (then exit 130), so an
 * interrupted bench never leaves a daemon or namespace behind.
 *
 * @param name The bench, for the message.
 * @param steps The clean-up.
 * @returns Runs the clean-up (once).
 */
export function cleanUpOnce(
  name: string,
  steps: () => Promise<void>,
): () => Promise<void> {
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => cleaning ??= steps();
  Deno.addSignalListener("SIGINT", () => {
    print(`${name}: interrupted; cleaning up`, Deno.stderr);
    cleanUp().finally(() => Deno.exit(130));
  });
  return cleanUp;
}
