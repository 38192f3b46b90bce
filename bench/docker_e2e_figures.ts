/**
 * End-to-end latency in privileged-service mode against a real dockerd (in
 * a network namespace): `docker run -d -p` returning → the host side (a TCP
 * receiver standing in for the privileged service) has the PortMapping
 * JSON, over `count` containers one at a time, next to the engine's own
 * event latency in the same run (when this script's own /events stream sees
 * the start). The agent runs as its own process (main.ts with the Go
 * agent's flags).
 *
 * Run: `deno run --allow-all bench/docker_e2e_figures.ts [count]` (root)
 *
 * @module
 */
import { spawnAgentProcess } from "../tests/agent_process.ts";
import {
  canRunDockerd,
  startDockerd,
  TEST_IMAGE,
} from "../tests/engines/dockerd.ts";
import { startLineReceiver } from "../tests/line_receiver.ts";
import { waitFor } from "../tests/wait.ts";
import { wallClockMs } from "../support/clock.ts";
import {
  cleanUpOnce,
  print,
  report,
  watchStartEvents,
} from "./latency_support.ts";

const COUNT = Number(Deno.args[0] ?? 100);
const HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];

if (!await canRunDockerd()) {
  print(
    "docker_e2e_figures: needs root, dockerd, busybox and ip netns",
    Deno.stderr,
  );
  Deno.exit(1);
}

const d = await startDockerd();
const receiver = startLineReceiver({ port: 0 });
const port = (receiver.addr as Deno.NetAddr).port;
const { child: agent } = spawnAgentProcess([
  "-privilegedService",
  "-docker",
  `--docker-socket=${d.socket}`,
  `-vtunnelAddr=127.0.0.1:${port}`,
  "--connect-interface=lo",
]);
const { startSeen, stop: stopEvents } = watchStartEvents(d.socket);

/** When the receiver first got a message for host port `hostPort`. */
function hostHas(hostPort: number): number | undefined {
  const index = receiver.messages.findIndex((m) =>
    !m.includes('"remove":true') && m.includes(`"HostPort":"${hostPort}"`)
  );
  return index === -1 ? undefined : receiver.receivedAt[index];
}

const cleanUp = cleanUpOnce("docker_e2e_figures", async () => {
  await stopEvents();
  try {
    agent.kill("SIGTERM");
  } catch { /* gone */ }
  await agent.status;
  await receiver.close();
  await d.stop();
});

try {
  const runOne = async (name: string, hostPort: number) => {
    const id = (await d.docker([
      "run",
      "-d",
      "--name",
      name,
      "-p",
      `${hostPort}:8080`,
      ...[TEST_IMAGE, ...HTTPD],
    ])).trim();
    const returnedAt = wallClockMs();
    await waitFor(() => hostHas(hostPort) !== undefined, 30_000);
    await waitFor(() => startSeen.has(id), 30_000);
    const hostAt = hostHas(hostPort)!;
    return {
      runToHost: hostAt - returnedAt,
      runToEvent: startSeen.get(id)! - returnedAt,
      eventToHost: hostAt - startSeen.get(id)!,
    };
  };
  await runOne("warmup", 20999);
  const samples = [];
  for (let i = 0; i < COUNT; i++) {
    samples.push(await runOne(`e2e${i}`, 21000 + i));
  }
  print(
    `privileged mode, real dockerd, agent process, TCP receiver as the host side; ${COUNT} containers one at a time`,
  );
  report(
    "docker run returned → host has the JSON",
    samples.map((s) => s.runToHost),
  );
  report(
    "docker run returned → engine's start event",
    samples.map((s) => s.runToEvent),
  );
  report(
    "engine's start event → host has the JSON",
    samples.map((s) => s.eventToHost),
  );
} finally {
  await cleanUp();
}
