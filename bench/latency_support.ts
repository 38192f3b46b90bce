/**
 * What the latency benchmarks share: a forwarder that timestamps each
 * owner's first add, the hook that records when the source saw a change and
 * when the main thread got it, and the report lines.
 *
 * @module
 */
import { injected } from "../tests/recording_forwarder.ts";
import type { AgentOptions } from "../agent/options.ts";
import { type AgentDependencies, startAgent } from "../agent/run_agent.ts";
import type { Forwarder } from "../forwarding/forwarder.ts";
import { wallClockMs } from "../support/clock.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import { DockerClient } from "../sources/docker/docker_client.ts";
import { parseDockerEvent } from "../sources/docker/parse_docker.ts";
import { readLines } from "../sources/worker/read_lines.ts";

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

/** CPU used so far and resident memory of a process, from /proc. */
export interface ProcessUsage {
  /** CPU seconds, user + system, its waited-for children included. */
  readonly cpuSeconds: number;
  /** Resident set size in MiB. */
  readonly rssMiB: number;
}

/**
 * The fields of /proc/PID/stat after "(comm) ": state is [0], utime [11],
 * stime [12], cutime [13], cstime [14] (10 ms ticks).
 */
function statFields(pid: number | "self"): string[] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Reads a process's CPU seconds and RSS (Linux /proc; 100 ticks/s). */
export function processUsage(pid: number | "self"): ProcessUsage {
  const fields = statFields(pid);
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, rssMiB: kib / 1024 };
}

/**
 * Each live thread's run time in ns (/proc/PID/task/TID/schedstat); none
 * once the process has ended.
 */
function threadNanos(pid: number): Map<string, number> {
  const nanos = new Map<string, number>();
  let tasks: Deno.DirEntry[];
  try {
    tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch {
    return nanos; // the process ended
  }
  for (const task of tasks) {
    try {
      const text = Deno.readTextFileSync(
        `/proc/${pid}/task/${task.name}/schedstat`,
      );
      nanos.set(task.name, Number(text.split(" ")[0]));
    } catch { /* the thread ended */ }
  }
  return nanos;
}

/** The 10 ms ticks of `pid`'s waited-for children (iptables-save). */
function childTicks(pid: number): number {
  const fields = statFields(pid);
  return Number(fields[13]) + Number(fields[14]);
}

/**
 * CPU seconds `pid` uses over the next `ms`: its threads' run time at
 * nanosecond resolution (schedstat), read every `intervalMs` so that a
 * thread that ends in the window (Deno's blocking-pool threads end after
 * 10 s idle) still counts with its last reading, plus its waited-for
 * children's 10 ms ticks. For idle periods, where /proc's ticks alone are
 * too coarse (12 ms is 0.02 % of a core over 60 s), and where a reading of
 * the live threads at each end would lose the threads that ended.
 */
export async function cpuSecondsOver(
  pid: number,
  ms: number,
  intervalMs = 250,
): Promise<number> {
  const first = threadNanos(pid);
  const last = new Map(first);
  const firstChildren = childTicks(pid);
  let lastChildren = firstChildren;
  // A process that ends in the window keeps its last readings.
  const sample = () => {
    for (const [tid, nanos] of threadNanos(pid)) last.set(tid, nanos);
    try {
      lastChildren = childTicks(pid);
    } catch { /* the process ended */ }
  };
  const timer = setInterval(sample, intervalMs);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(timer);
  sample();
  let nanos = 0;
  for (const [tid, value] of last) nanos += value - (first.get(tid) ?? 0);
  return nanos / 1e9 + (lastChildren - firstChildren) / 100;
}

/** Writes one line. */
export function print(line: string, stream = Deno.stdout): void {
  stream.writeSync(new TextEncoder().encode(`${line}\n`));
}

/** Upper bounds a figure should stay under, where the project sets one. */
export interface Target {
  /** For the median (or the single value). */
  readonly median?: number;
  /** For the 99th percentile. */
  readonly p99?: number;
  /** Ours at most the Go agent's figure measured in the same run. */
  readonly noWorseThanGo?: boolean;
}

/** One figure for the summary of bench/summary.ts and docs/benchmarks.md. */
export interface Figure {
  /** What was measured. */
  readonly label: string;
  /** The median, or the one value measured (the mean where `statistic` says). */
  readonly median: number;
  /** Which statistic `median` holds. @default "median" */
  readonly statistic?: "median" | "mean";
  /** The 99th percentile, for series. */
  readonly p99?: number;
  /** Samples in the series (1 for a single value). */
  readonly n: number;
  /** "ms", "MiB", "% of a core", … */
  readonly unit: string;
  /** The Go agent's figure for the same thing, measured in the same run. */
  readonly go?: number;
  /** What it should stay under, where the project sets a target. */
  readonly target?: Target;
}

/**
 * Appends a figure (as a JSON line naming this script) to the file
 * `GA_BENCH_RESULTS` names, where bench/summary.ts collects them; without
 * that variable (a script run on its own) it does nothing.
 */
export function recordFigure(figure: Figure): void {
  const file = Deno.env.get("GA_BENCH_RESULTS");
  if (!file) return;
  const script = Deno.mainModule.slice(Deno.mainModule.lastIndexOf("/") + 1);
  Deno.writeTextFileSync(file, `${JSON.stringify({ script, ...figure })}\n`, {
    append: true,
  });
}

/**
 * Prints and records one measured value (an RSS, a CPU share, a time), or
 * the median of `n` runs of it.
 */
export function reportValue(
  label: string,
  value: number,
  unit: string,
  target?: number,
  n = 1,
): void {
  print(
    `${label.padEnd(44)} ${
      value.toFixed(Math.abs(value) < 1 ? 3 : 2).padStart(8)
    } ${unit}${target === undefined ? "" : `  (target < ${target} ${unit})`}`,
  );
  recordFigure({
    label,
    median: value,
    n,
    unit,
    ...(target === undefined ? {} : { target: { median: target } }),
  });
}

/** Prints (and records) `label`, n, median, p99 and max of `values` in ms. */
export function report(
  label: string,
  values: readonly number[],
  target?: Target,
): void {
  const f = (n: number) => n.toFixed(2).padStart(8);
  const median = percentile(values, 50);
  const p99 = percentile(values, 99);
  print(
    `${label.padEnd(44)} n=${values.length}  median ${f(median)} ms  p99 ${
      f(p99)
    } ms  max ${f(Math.max(...values))} ms`,
  );
  recordFigure({
    label,
    median,
    p99,
    n: values.length,
    unit: "ms",
    ...(target === undefined ? {} : { target }),
  });
}

/** The target for agent-added latency of event sources. */
export const EVENT_SOURCE_TARGET: Target = { median: 2, p99: 10 };

/** Prints a row per (label, samples, field, target?). */
export function reportRows<T>(
  rows: readonly (readonly [string, readonly T[], keyof T, Target?])[],
): void {
  for (const [label, samples, field, target] of rows) {
    report(label, samples.map((sample) => sample[field] as number), target);
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
    const agent = await startAgent(options, injected([counter]));
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

/** When dockerd said each container started, from an /events stream of its own. */
export interface StartEvents {
  /** Container id → wall-clock ms of its start event. */
  readonly startSeen: ReadonlyMap<string, number>;
  /** Ends the stream. */
  stop(): Promise<void>;
}

/** Watches dockerd's events at `socket`, stamping each container start. */
export function watchStartEvents(socket: string): StartEvents {
  const events = new AbortController();
  const startSeen = new Map<string, number>();
  const client = new DockerClient(socket);
  const watching = (async () => {
    const stream = await client.events(events.signal);
    for await (const line of readLines(stream, { signal: events.signal })) {
      const at = wallClockMs();
      const event = parseDockerEvent(line);
      if (event?.action === "start") startSeen.set(event.id, at);
    }
  })().catch(() => {});
  return {
    startSeen,
    stop: async () => {
      events.abort();
      await watching;
      client.close();
    },
  };
}

/**
 * A Deno script with `workers` idle workers and nothing else, for
 * `deno eval`: the floor any agent of that shape pays in memory.
 */
export function floorScript(workers: number): string {
  return `for (let i = 0; i < ${workers}; i++) new Worker("data:text/javascript,self.onmessage=()=>{}", { type: "module" }); Deno.addSignalListener("SIGTERM", () => Deno.exit(0)); setInterval(() => {}, 1000);`;
}

/** Resident memory of a process, MiB: all, private (anonymous), file-backed. */
export interface ResidentMemory {
  /** All resident pages. */
  readonly rss: number;
  /** Anonymous pages: what the process alone pays for. */
  readonly private: number;
  /** File-backed pages (the binary, libraries), shared with others. */
  readonly file: number;
}

/** Resident memory of `pid` from /proc/PID/smaps_rollup. */
export function residentMemory(pid: number): ResidentMemory {
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
  const anon = kib("Anonymous");
  return {
    rss: kib("Rss") / 1024,
    private: anon / 1024,
    file: (kib("Rss") - anon) / 1024,
  };
}

/** How many Web Workers `pid` runs (Deno names their threads worker-N). */
export function workerThreads(pid: number): number {
  let count = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const name = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/comm`);
      if (name.startsWith("worker-")) count++;
    } catch { /* the thread ended */ }
  }
  return count;
}
