/**
 * Docker latency against a real dockerd in a network namespace (root,
 * dockerd and busybox needed; see docs/testing.md):
 *
 * - agent-added latency: from the event line's arrival at the Docker worker
 *   (the `observedAt` stamp it sends) to the forwarder's add call on the
 *   main thread: the worker's inspect round trip, the message hop, the
 *   tracker and the delivery queue;
 * - from `docker run -d` returning to the forwarder's add (negative when the
 *   add came before the CLI returned).
 *
 * 100 containers one after another, then 100 started 10 at a time.
 * Then, with the agent stopped, the floor under the agent-added figure,
 * one container at a time: dockerd's own inspect answered at its start
 * event (a bare subscriber on this thread), and the Docker source's watcher
 * run on this thread (no worker, no message hop, no tracker).
 * Prints medians, p99 and max; asserts nothing about speed.
 *
 * Run: `deno run --allow-all bench/docker_latency.ts [count]`
 *
 * @module
 */
import { injected } from "../tests/recording_forwarder.ts";
import {
  canRunDockerd,
  startDockerd,
  TEST_IMAGE,
} from "../tests/engines/dockerd.ts";
import { onlySources, TEST_OPTIONS } from "../tests/test_options.ts";
import { startAgent } from "../agent/run_agent.ts";
import { wallClockMs } from "../support/clock.ts";
import { DockerClient } from "../sources/docker/docker_client.ts";
import { parseDockerEvent } from "../sources/docker/parse_docker.ts";
import { readLines } from "../sources/worker/read_lines.ts";
import { watchDocker } from "../sources/docker/watch_docker.ts";
import {
  cleanUpOnce,
  EVENT_SOURCE_TARGET,
  measureAgentStarts,
  measureStarts,
  print,
  report,
  reportRows,
  type Target,
  TimingForwarder,
  UpsertTimes,
} from "./latency_support.ts";

const COUNT = Number(Deno.args[0] ?? 100);
/** Containers per floor series (bare inspect; watcher without a worker). */
const FLOOR_COUNT = Math.min(COUNT, 50);
const HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];

if (!await canRunDockerd()) {
  print(
    "docker_latency: needs root, dockerd, docker, busybox, nsenter and ip",
    Deno.stderr,
  );
  Deno.exit(1);
}

const dockerd = await startDockerd();
const forwarder = new TimingForwarder();
const times = new UpsertTimes();
const agent = await startAgent({
  ...TEST_OPTIONS,
  ...onlySources("docker"),
  dockerSocket: dockerd.socket,
}, {
  ...injected([forwarder]),
  onSourceMessage: times.hook,
});

async function runOne(name: string, port: number) {
  const id = (await dockerd.docker([
    "run",
    "-d",
    "--name",
    name,
    "-p",
    `${port}:8080`,
    TEST_IMAGE,
    ...HTTPD,
  ])).trim();
  const returnedAt = wallClockMs();
  await forwarder.added(id);
  const addedAt = forwarder.addedAt.get(id)!;
  return { ...times.latencies(id, addedAt), runToAdd: addedAt - returnedAt };
}

/**
 * Starts `count` containers one at a time (ports from `firstPort`) while
 * `watch` sees the engine; `watch` resolves each container's latency.
 */
async function measureFloor(
  count: number,
  firstPort: number,
  watch: (signal: AbortSignal) => {
    ready: Promise<void>;
    latency: (id: string) => Promise<number>;
    done: Promise<void>;
  },
): Promise<number[]> {
  const abort = new AbortController();
  const watcher = watch(abort.signal);
  const latencies: number[] = [];
  try {
    await watcher.ready;
    for (let i = 0; i < count; i++) {
      const id = (await dockerd.docker([
        "run",
        "-d",
        "-p",
        `${firstPort + i}:8080`,
        TEST_IMAGE,
        ...HTTPD,
      ])).trim();
      latencies.push(await watcher.latency(id));
    }
  } finally {
    abort.abort();
    await watcher.done.catch(() => {});
  }
  return latencies;
}

/** Resolves per container id, whichever comes first: the value or the wait. */
class Settled {
  #values = new Map<string, number>();
  #waiting = new Map<string, (value: number) => void>();

  set(id: string, value: number): void {
    const waiter = this.#waiting.get(id);
    if (waiter) waiter(value);
    else this.#values.set(id, value);
  }

  get(id: string): Promise<number> {
    const value = this.#values.get(id);
    if (value !== undefined) return Promise.resolve(value);
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }
}

/** dockerd's inspect at its start event: event line read → inspect answered. */
function bareInspect(signal: AbortSignal) {
  const client = new DockerClient(dockerd.socket);
  const settled = new Settled();
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => ready = resolve);
  const done = (async () => {
    try {
      await client.ping(signal);
      const stream = await client.events(signal);
      ready();
      for await (const line of readLines(stream, { signal })) {
        const observedAt = wallClockMs();
        const event = parseDockerEvent(line);
        if (event?.action !== "start") continue;
        await client.inspect(event.id, signal);
        settled.set(event.id, wallClockMs() - observedAt);
      }
    } finally {
      client.close();
    }
  })();
  return {
    ready: readyPromise,
    latency: (id: string) => settled.get(id),
    done,
  };
}

/** The source's watcher on this thread: event line read → upsert emitted. */
function watcherWithoutWorker(signal: AbortSignal) {
  const settled = new Settled();
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => ready = resolve);
  const done = watchDocker({ socketPath: dockerd.socket }, (message) => {
    if (message.type === "snapshot") ready();
    if (message.type === "upsert" && message.observedAt !== undefined) {
      settled.set(message.ownerId, wallClockMs() - message.observedAt);
    }
  }, signal);
  return {
    ready: readyPromise,
    latency: (id: string) => settled.get(id),
    done,
  };
}

const cleanUp = cleanUpOnce("docker_latency", async () => {
  await agent.stop();
  await dockerd.stop();
});

try {
  const { sequential, burst } = await measureStarts(COUNT, runOne);
  print(
    `dockerd in a network namespace, ${COUNT} containers each, 2 bindings per container (0.0.0.0 and ::), first add timed`,
  );
  const rows: [
    string,
    typeof sequential,
    keyof (typeof sequential)[0],
    Target?,
  ][] = [
    [
      "agent-added, one at a time",
      sequential,
      "agentAdded",
      EVENT_SOURCE_TARGET,
    ],
    ["  of which worker (inspect, message hop)", sequential, "worker"],
    ["  of which main thread (tracker, queue)", sequential, "main"],
    ["docker run returned → add, one at a time", sequential, "runToAdd"],
    ["agent-added, 10 at a time", burst, "agentAdded", EVENT_SOURCE_TARGET],
    ["docker run returned → add, 10 at a time", burst, "runToAdd"],
  ];
  reportRows(rows);
  await agent.stop();
  report(
    "floor: dockerd's inspect at its start event",
    await measureFloor(FLOOR_COUNT, 23000, bareInspect),
  );
  report(
    "floor: the watcher without a worker",
    await measureFloor(FLOOR_COUNT, 24000, watcherWithoutWorker),
  );
  // Startup: a whole new agent until every running container is tracked.
  const running = 2 * COUNT + 1 + 2 * FLOOR_COUNT;
  report(
    `agent start → ${running} running containers tracked`,
    await measureAgentStarts({
      ...TEST_OPTIONS,
      ...onlySources("docker"),
      dockerSocket: dockerd.socket,
    }, running),
  );
} finally {
  await cleanUp();
}
