/**
 * Docker latency against a real dockerd in a network namespace (root,
 * dockerd and busybox needed; see ../shared/ENGINES.md):
 *
 * - agent-added latency: from the event line's arrival at the Docker worker
 *   (the `observedAt` stamp it sends) to the forwarder's add call on the
 *   main thread: the worker's inspect round trip, the message hop, the
 *   tracker and the delivery queue;
 * - from `docker run -d` returning to the forwarder's add (negative when the
 *   add came before the CLI returned).
 *
 * 100 containers one after another, then 100 started 10 at a time.
 * Prints medians, p99 and max; asserts nothing about speed.
 *
 * Run: `deno run --allow-all bench/docker_latency.ts [count]`
 *
 * @module
 */
import {
  canRunDockerd,
  startDockerd,
  TEST_IMAGE,
} from "../tests/engines/dockerd.ts";
import { onlySources, TEST_OPTIONS } from "../tests/test_options.ts";
import { startAgent } from "../agent/run_agent.ts";
import { wallClockMs } from "../sources/messages.ts";
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
  forwarders: [forwarder],
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
  // Startup: a whole new agent until every running container is tracked.
  const running = 2 * COUNT + 1;
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
