/**
 * Our agent beside the Go agent it replaces, in one run against one real
 * dockerd (in a network namespace): both in privileged-service mode with the
 * service files' flags, each sending to a TCP receiver of its own on
 * loopback that stands in for the privileged service. Rounds alternate
 * between the two agents; in each round the agent under test starts, one
 * warm-up container proves it connected, then `count` containers start one
 * at a time. Per agent:
 *
 * - Docker start event (this script's own /events stream) → the receiver has
 *   the first PortMapping JSON for the container's host port: median, p95;
 * - what a user feels: `docker run -d -p` returned → that JSON (negative
 *   when the JSON came first);
 * - CPU over the 20 s after the round's last container (ms of CPU per s,
 *   from the threads' schedstat read every 250 ms by cpuSecondsOver: the
 *   settling after a burst, garbage collection included), and RSS split
 *   into private (anonymous) and file pages (smaps_rollup), at the end of a
 *   round; beside them Deno's floor for our agent's shape: an empty script
 *   with as many idle workers as our agent runs (its worker-N threads),
 *   started after our round;
 * - each as the ratio ours / Go;
 * - where our time goes: after the timed rounds, one more round of ours
 *   with `GUEST_AGENT_STAGE_PROFILE` (support/stage_profile.ts; its stamps
 *   cost a little on the path, so the timed rounds run as users do, without
 *   it), and each stage's stamp is put beside the
 *   start event on the one wall clock: the worker read the event line
 *   (`seen`), knew the ports (`ports known` from the create-time
 *   configuration, or `inspected`), posted; the main thread received,
 *   tracked, queued, called the forwarder (connect, write and shutdown done
 *   when the socket allowed), the peer closed (`delivered`).
 *
 * The Go agent is `GO_AGENT` (default rancher-desktop-guestagent-v0.3.19
 * in the peers directory, docs/testing.md); where it is absent the script
 * says so and exits 0. It runs as it must: root, a private mount namespace where
 * /var/run/docker.sock is dockerd's socket, `-iptables=false`.
 *
 * Run: `deno run --allow-all bench/go_agent_figures.ts [count] [rounds]` (root)
 *
 * @module
 */
import { spawnAgentProcess } from "../tests/agent_process.ts";
import {
  canRunDockerd,
  startDockerd,
  TEST_IMAGE,
} from "../tests/engines/dockerd.ts";
import {
  type LineReceiver,
  startLineReceiver,
} from "../tests/line_receiver.ts";
import { waitFor } from "../tests/wait.ts";
import {
  GO_AGENT_PATH,
  haveGoAgent,
  spawnGoAgent,
} from "../tests/engines/go_agent.ts";
import {
  cleanUpOnce,
  cpuSecondsOver,
  floorScript,
  percentile,
  print,
  recordFigure,
  type ResidentMemory,
  residentMemory,
  watchStartEvents,
  workerThreads,
} from "./latency_support.ts";
import { wallClockMs } from "../support/clock.ts";
import type { StageTrace } from "../support/stage_profile.ts";
import { AGENT_V8_FLAGS } from "../tests/agent_runtime.ts";

const COUNT = Number(Deno.args[0] ?? 30);
const ROUNDS = Number(Deno.args[1] ?? 3);
const IDLE_SECONDS = 20;
const HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];

if (!await haveGoAgent()) {
  print(
    `go_agent_figures: no Go agent at ${GO_AGENT_PATH} (set GO_AGENT); skipped`,
  );
  Deno.exit(0);
}
if (!await canRunDockerd()) {
  print(
    "go_agent_figures: needs root, dockerd, busybox and ip netns",
    Deno.stderr,
  );
  Deno.exit(1);
}

const d = await startDockerd();
const { startSeen, stop: stopEvents } = watchStartEvents(d.socket);

/** A running agent: its process and the receiver it sends to. */
/** A container started during a round, and what the receiver saw of it. */
interface Started {
  readonly id: string;
  readonly hostPort: number;
  /** Start event → first JSON at the receiver, ms. */
  readonly latency: number;
  /** `docker run -d` returned → that JSON, ms. */
  readonly afterRun: number;
}

interface Running {
  readonly pid: number;
  readonly receiver: LineReceiver;
  stop(): Promise<void>;
}

/** Starts an agent that sends to a receiver of its own on loopback. */
function startWith(spawn: (port: number) => Deno.ChildProcess): Running {
  const receiver = startLineReceiver({ port: 0 });
  const child = spawn((receiver.addr as Deno.NetAddr).port);
  return {
    pid: child.pid,
    receiver,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await receiver.close();
    },
  };
}

const profileDir = await Deno.makeTempDir({ prefix: "ga-stages-" });

/** Ours, with the service files' privileged-mode flags; with `profile`, its stages go there. */
const startOurs = (profile?: string) =>
  startWith((port) =>
    spawnAgentProcess(
      [
        "-privilegedService",
        "-docker",
        `--docker-socket=${d.socket}`,
        `-vtunnelAddr=127.0.0.1:${port}`,
        "--connect-interface=lo",
        "-iptables=false",
      ],
      [],
      "discard",
      profile ? { GUEST_AGENT_STAGE_PROFILE: profile } : {},
    ).child
  );

/** The Go agent, as the peers README runs it. */
const startGo = () =>
  startWith((port) =>
    spawnGoAgent({ dockerSocket: d.socket, vtunnelPort: port })
  );

/** When the receiver first had a message naming `hostPort`. */
function firstFor(
  receiver: LineReceiver,
  hostPort: number,
): number | undefined {
  const index = receiver.messages.findIndex((m) =>
    !m.includes('"remove":true') && m.includes(`"HostPort":"${hostPort}"`)
  );
  return index === -1 ? undefined : receiver.receivedAt[index];
}

/** Deno's floor for `workers` idle workers: its resident memory after 5 s. */
async function floorMemory(workers: number): Promise<ResidentMemory> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", ...AGENT_V8_FLAGS, floorScript(workers)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    return residentMemory(child.pid);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/** The trace of the first binding of `hostPort` our agent called its forwarder for. */
function traceFor(
  traces: readonly StageTrace[],
  hostPort: number,
): StageTrace | undefined {
  return traces.filter((t) => t.key.endsWith(`:${hostPort}`))
    .sort((a, b) => (a.stamps.called ?? 0) - (b.stamps.called ?? 0))[0];
}

const figures = {
  ours: {
    latency: [] as number[],
    afterRun: [] as number[],
    idleCpu: [] as number[],
    mem: [] as ResidentMemory[],
  },
  go: {
    latency: [] as number[],
    afterRun: [] as number[],
    idleCpu: [] as number[],
    mem: [] as ResidentMemory[],
  },
};
/** Deno's floor beside each of our rounds, and how many workers it had. */
const floors: { workers: number; mem: ResidentMemory }[] = [];
/** Per stage, ms from the start event, over all our containers. */
const stages = new Map<string, number[]>();
/** Our containers with a trace in the profiled round. */
let profiled = 0;
/** Of those, the ones whose ports were known before the inspect answered. */
let knownAtStart = 0;

const cleanUp = cleanUpOnce("go_agent_figures", async () => {
  await stopEvents();
  await d.stop();
  await Deno.remove(profileDir, { recursive: true });
});

let nextPort = 22000;

/** Starts `count` containers one at a time with the agent running; what the receiver saw of each. */
async function containersWith(
  agent: Running,
  count: number,
): Promise<Started[]> {
  // The Go agent waits 5 s before its first Docker check: a warm-up
  // container's JSON says the agent is connected.
  const warmPort = nextPort++;
  await d.docker(["run", "-d", "-p", `${warmPort}:8080`, TEST_IMAGE, ...HTTPD]);
  await waitFor(
    () => firstFor(agent.receiver, warmPort) !== undefined,
    60_000,
  );
  const started: Started[] = [];
  for (let i = 0; i < count; i++) {
    const hostPort = nextPort++;
    const id = (await d.docker([
      "run",
      "-d",
      "-p",
      `${hostPort}:8080`,
      TEST_IMAGE,
      ...HTTPD,
    ])).trim();
    const returnedAt = wallClockMs();
    await waitFor(
      () => firstFor(agent.receiver, hostPort) !== undefined,
      30_000,
    );
    await waitFor(() => startSeen.has(id), 30_000);
    const received = firstFor(agent.receiver, hostPort)!;
    started.push({
      id,
      hostPort,
      latency: received - startSeen.get(id)!,
      afterRun: received - returnedAt,
    });
  }
  return started;
}

/** Removes every container (with the agent stopped: removals are not measured). */
async function removeContainers(): Promise<void> {
  const ids = (await d.docker(["ps", "-aq"])).split("\n").filter(Boolean);
  if (ids.length > 0) await d.docker(["rm", "-f", ...ids]);
}

/** One timed round of `which`, unprofiled: latency, CPU and memory. */
async function timedRound(which: "ours" | "go"): Promise<void> {
  const agent = which === "ours" ? startOurs() : startGo();
  let workers = 0;
  try {
    const started = await containersWith(agent, COUNT);
    figures[which].latency.push(...started.map((s) => s.latency));
    figures[which].afterRun.push(...started.map((s) => s.afterRun));
    const cpu = await cpuSecondsOver(agent.pid, IDLE_SECONDS * 1000);
    figures[which].idleCpu.push(cpu * 1000 / IDLE_SECONDS);
    figures[which].mem.push(residentMemory(agent.pid));
    workers = workerThreads(agent.pid);
  } finally {
    await agent.stop();
  }
  if (which === "ours") {
    floors.push({ workers, mem: await floorMemory(workers) });
  }
  await removeContainers();
}

/**
 * One round of ours with the stage profile on, for the breakdown only (its
 * stamps cost a little on the path, so its times stay out of the figures).
 */
async function profiledRound(): Promise<void> {
  const profile = `${profileDir}/stages.json`;
  const agent = startOurs(profile);
  let started: Started[];
  try {
    started = await containersWith(agent, COUNT);
  } finally {
    await agent.stop();
  }
  const { traces } = JSON.parse(await Deno.readTextFile(profile)) as {
    traces: StageTrace[];
  };
  for (const { id, hostPort, latency } of started) {
    const trace = traceFor(traces, hostPort);
    if (trace === undefined) continue;
    profiled++;
    if ("ports known" in trace.stamps) knownAtStart++;
    const at = (stage: string, ms: number) =>
      stages.set(stage, [...stages.get(stage) ?? [], ms]);
    for (const [stage, stamp] of Object.entries(trace.stamps)) {
      at(stage, stamp - startSeen.get(id)!);
    }
    at("receiver has the JSON", latency);
  }
  await removeContainers();
}

try {
  for (let round = 0; round < ROUNDS; round++) {
    await timedRound("ours");
    await timedRound("go");
  }
  await profiledRound();
  const median = (values: readonly number[]) => percentile(values, 50);
  const row = (
    label: string,
    ours: number,
    go: number,
    unit: string,
    target: { noWorseThanGo?: true; median?: number } = {},
  ) => {
    // Times that may be negative compare by difference (see targetCells).
    const beside = go > 0 && ours >= 0
      ? `ours/Go ${(ours / go).toFixed(2)}`
      : `ours−Go ${(ours - go).toFixed(2)} ${unit}`;
    print(
      `${label.padEnd(44)} ours ${ours.toFixed(2).padStart(8)} ${unit}  Go ${
        go.toFixed(2).padStart(8)
      } ${unit}  ${beside}`,
    );
    recordFigure({
      label,
      median: ours,
      n: 1,
      unit,
      go,
      ...(Object.keys(target).length > 0 ? { target } : {}),
    });
  };
  print(
    `privileged mode beside the Go agent (${
      GO_AGENT_PATH.split("/").pop()
    }), real dockerd, ${ROUNDS} alternating rounds × ${COUNT} containers one at a time`,
  );
  row(
    "start event → first JSON, median",
    median(figures.ours.latency),
    median(figures.go.latency),
    "ms",
    { noWorseThanGo: true },
  );
  row(
    "start event → first JSON, p95",
    percentile(figures.ours.latency, 95),
    percentile(figures.go.latency, 95),
    "ms",
    { noWorseThanGo: true },
  );
  row(
    "docker run -d returned → first JSON, median",
    median(figures.ours.afterRun),
    median(figures.go.afterRun),
    "ms",
    { noWorseThanGo: true },
  );
  row(
    `CPU in the ${IDLE_SECONDS} s after the last container, median`,
    median(figures.ours.idleCpu),
    median(figures.go.idleCpu),
    "ms/s",
  );
  const mem = (which: "ours" | "go", key: keyof ResidentMemory) =>
    median(figures[which].mem.map((m) => m[key]));
  row("RSS, median", mem("ours", "rss"), mem("go", "rss"), "MiB");
  row(
    "  of which private (anonymous)",
    mem("ours", "private"),
    mem("go", "private"),
    "MiB",
    { median: 20 },
  );
  row("  of which file pages", mem("ours", "file"), mem("go", "file"), "MiB");
  const floorWorkers = [...new Set(floors.map((f) => f.workers))].join("/");
  const idleWorkers = `${floorWorkers} idle worker${
    floorWorkers === "1" ? "" : "s"
  }`;
  for (const key of ["rss", "private"] as const) {
    const floor = median(floors.map((f) => f.mem[key]));
    print(
      `Deno's floor (empty script + ${idleWorkers}), ${key}: ${
        floor.toFixed(2)
      } MiB; ours is ${(mem("ours", key) - floor).toFixed(2)} MiB over it`,
    );
    recordFigure({
      label: `Deno's floor for our shape (${idleWorkers}), ${
        key === "rss" ? "RSS" : "private"
      }`,
      median: floor,
      n: floors.length,
      unit: "MiB",
    });
  }
  print(
    `where our time goes, ms from the start event (a profiled round after the timed ones, median over ${profiled} containers; ports known from the create-time configuration for ${knownAtStart}):`,
  );
  const order = [...stages.entries()].sort((a, b) =>
    median(a[1]) - median(b[1])
  );
  for (const [stage, values] of order) {
    print(`  ${stage.padEnd(24)} ${median(values).toFixed(2).padStart(8)} ms`);
    recordFigure({
      label: `ours, stage "${stage}", from the start event`,
      median: median(values),
      p99: percentile(values, 99),
      n: values.length,
      unit: "ms",
    });
  }
} finally {
  await cleanUp();
}
