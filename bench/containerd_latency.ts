/**
 * containerd latency against a real containerd in a network namespace,
 * driven by `ctr` (root, containerd, ctr, runc and busybox needed; see
 * docs/testing.md):
 *
 * - agent-added latency: from the event envelope's arrival at the
 *   containerd worker (the `observedAt` stamp it sends) to the forwarder's
 *   add call on the main thread: the worker's Containers/Get round trip,
 *   the message hop, the tracker and the delivery queue;
 * - from `ctr run -d` returning to the forwarder's add (negative when the
 *   add came before the CLI returned);
 * - snapshot time with all those containers running: the source's start
 *   (health, subscribe, list namespaces, containers and tasks) to its
 *   snapshot message, in-process, and a whole agent's start to every
 *   container tracked.
 *
 * Run: `deno run --allow-all bench/containerd_latency.ts [count]`
 *
 * @module
 */
import { injected } from "../tests/recording_forwarder.ts";
import {
  canRunContainerd,
  startContainerd,
} from "../tests/engines/containerd.ts";
import { onlySources, TEST_OPTIONS } from "../tests/test_options.ts";
import { startAgent } from "../agent/run_agent.ts";
import { watchContainerd } from "../sources/containerd/watch_containerd.ts";
import { wallClockMs } from "../support/clock.ts";
import {
  cleanUpOnce,
  EVENT_SOURCE_TARGET,
  measureAgentStarts,
  measureStarts,
  print,
  report,
  reportRows,
  TimingForwarder,
  UpsertTimes,
} from "./latency_support.ts";

const COUNT = Number(Deno.args[0] ?? 100);
const NAMESPACE = "bench";

if (!await canRunContainerd()) {
  print(
    "containerd_latency: needs root, containerd, ctr, runc, busybox, nsenter and ip",
    Deno.stderr,
  );
  Deno.exit(1);
}

const containerd = await startContainerd();
const options = {
  ...TEST_OPTIONS,
  ...onlySources("containerd"),
  containerdSocket: containerd.socket,
};
const forwarder = new TimingForwarder();
const times = new UpsertTimes();
const agent = await startAgent(options, {
  ...injected([forwarder]),
  onSourceMessage: times.hook,
});

function label(port: number): Record<string, string> {
  return {
    "nerdctl/ports": JSON.stringify([
      { HostPort: port, ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0" },
    ]),
  };
}

async function runOne(id: string, port: number) {
  await containerd.run(NAMESPACE, id, { labels: label(port) });
  const returnedAt = wallClockMs();
  const owner = `${NAMESPACE}/${id}`;
  await forwarder.added(owner);
  const addedAt = forwarder.addedAt.get(owner)!;
  return {
    ...times.latencies(owner, addedAt),
    runToAdd: addedAt - returnedAt,
  };
}

async function snapshotOnce(): Promise<{ ms: number; entries: number }> {
  const controller = new AbortController();
  const start = performance.now();
  let result: { ms: number; entries: number } | undefined;
  const done = watchContainerd(
    { socketPath: containerd.socket, nerdctlDataRoot: "/var/lib/nerdctl" },
    (message) => {
      if (message.type === "snapshot" && result === undefined) {
        result = {
          ms: performance.now() - start,
          entries: message.entries.length,
        };
        controller.abort();
      }
    },
    controller.signal,
  );
  await done;
  return result!;
}

const cleanUp = cleanUpOnce("containerd_latency", async () => {
  await agent.stop();
  await containerd.stop();
});

try {
  const { sequential, burst } = await measureStarts(COUNT, runOne);
  print(
    `containerd in a network namespace, ${COUNT} containers each, 1 binding per container, first add timed`,
  );
  reportRows([
    [
      "agent-added, one at a time",
      sequential,
      "agentAdded",
      EVENT_SOURCE_TARGET,
    ],
    ["  of which worker (Get, message hop)", sequential, "worker"],
    ["  of which main thread (tracker, queue)", sequential, "main"],
    ["ctr run returned → add, one at a time", sequential, "runToAdd"],
    ["agent-added, 10 at a time", burst, "agentAdded", EVENT_SOURCE_TARGET],
    ["ctr run returned → add, 10 at a time", burst, "runToAdd"],
  ]);

  const running = 2 * COUNT + 1;
  const snapshots = [];
  for (let i = 0; i < 7; i++) snapshots.push(await snapshotOnce());
  if (snapshots.some((s) => s.entries !== running)) {
    throw new Error(
      `a snapshot missed containers: ${snapshots.map((s) => s.entries)}`,
    );
  }
  report(
    `snapshot of ${running} running containers (in-process)`,
    snapshots.slice(1).map((s) => s.ms),
  );
  const starts = await measureAgentStarts(options, running);
  report(`agent start → ${running} containers tracked`, starts);
} finally {
  await cleanUp();
}
