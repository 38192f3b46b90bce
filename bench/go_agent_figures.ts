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
 * - CPU over the 20 s after the round's last container (ms of CPU per s,
 *   from the threads' schedstat read every 250 ms by cpuSecondsOver: the
 *   settling after a burst, garbage collection included), and RSS split
 *   into private (anonymous) and file pages (smaps_rollup), at the end of a
 *   round;
 * - each as the ratio ours / Go.
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
import { peerPath } from "../tests/engines/peers.ts";
import {
  cleanUpOnce,
  cpuSecondsOver,
  percentile,
  print,
  recordFigure,
  watchStartEvents,
} from "./latency_support.ts";

const COUNT = Number(Deno.args[0] ?? 30);
const ROUNDS = Number(Deno.args[1] ?? 3);
const IDLE_SECONDS = 20;
const GO_AGENT = Deno.env.get("GO_AGENT") ??
  peerPath("rancher-desktop-guestagent-v0.3.19");
const HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];

try {
  await Deno.stat(GO_AGENT);
} catch {
  print(`go_agent_figures: no Go agent at ${GO_AGENT} (set GO_AGENT); skipped`);
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

/** Ours, with the service files' privileged-mode flags. */
const startOurs = () =>
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
    ).child
  );

/** The Go agent, as the peers README runs it. */
const startGo = () =>
  startWith((port) =>
    new Deno.Command("unshare", {
      args: [
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        'mount -t tmpfs tmpfs /run && : > /run/docker.sock && mount --bind "$SOCK" /run/docker.sock && exec env DOCKER_HOST="unix://$SOCK" "$AGENT" -docker -privilegedService -vtunnelAddr "127.0.0.1:$PORT" -iptables=false',
      ],
      env: { SOCK: d.socket, AGENT: GO_AGENT, PORT: String(port) },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn()
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

/** Private (anonymous) and file-backed resident MiB of `pid`. */
function memory(pid: number): { rss: number; private: number; file: number } {
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

const figures = {
  ours: {
    latency: [] as number[],
    idleCpu: [] as number[],
    mem: [] as ReturnType<typeof memory>[],
  },
  go: {
    latency: [] as number[],
    idleCpu: [] as number[],
    mem: [] as ReturnType<typeof memory>[],
  },
};

const cleanUp = cleanUpOnce("go_agent_figures", async () => {
  await stopEvents();
  await d.stop();
});

let nextPort = 22000;
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const which of ["ours", "go"] as const) {
      const agent = which === "ours" ? startOurs() : startGo();
      try {
        // The Go agent waits 5 s before its first Docker check: a warm-up
        // container's JSON says the agent is connected.
        const warmPort = nextPort++;
        await d.docker([
          "run",
          "-d",
          "-p",
          `${warmPort}:8080`,
          TEST_IMAGE,
          ...HTTPD,
        ]);
        await waitFor(
          () => firstFor(agent.receiver, warmPort) !== undefined,
          60_000,
        );
        for (let i = 0; i < COUNT; i++) {
          const hostPort = nextPort++;
          const id = (await d.docker([
            "run",
            "-d",
            "-p",
            `${hostPort}:8080`,
            TEST_IMAGE,
            ...HTTPD,
          ])).trim();
          await waitFor(
            () => firstFor(agent.receiver, hostPort) !== undefined,
            30_000,
          );
          await waitFor(() => startSeen.has(id), 30_000);
          figures[which].latency.push(
            firstFor(agent.receiver, hostPort)! - startSeen.get(id)!,
          );
        }
        const cpu = await cpuSecondsOver(agent.pid, IDLE_SECONDS * 1000);
        figures[which].idleCpu.push(cpu * 1000 / IDLE_SECONDS);
        figures[which].mem.push(memory(agent.pid));
      } finally {
        await agent.stop();
      }
      // Containers go with the agent stopped: removals are not measured.
      const ids = (await d.docker(["ps", "-aq"])).split("\n").filter(Boolean);
      if (ids.length > 0) await d.docker(["rm", "-f", ...ids]);
    }
  }
  const median = (values: readonly number[]) => percentile(values, 50);
  const row = (
    label: string,
    ours: number,
    go: number,
    unit: string,
    noWorseThanGo = false,
  ) => {
    const ratio = go > 0 ? ours / go : undefined;
    print(
      `${label.padEnd(44)} ours ${ours.toFixed(2).padStart(8)} ${unit}  Go ${
        go.toFixed(2).padStart(8)
      } ${unit}  ours/Go ${
        ratio === undefined ? "— (Go 0)" : ratio.toFixed(2)
      }`,
    );
    recordFigure({
      label,
      median: ours,
      n: 1,
      unit,
      go,
      ...(noWorseThanGo ? { target: { noWorseThanGo: true } } : {}),
    });
  };
  print(
    `privileged mode beside the Go agent (${
      GO_AGENT.split("/").pop()
    }), real dockerd, ${ROUNDS} alternating rounds × ${COUNT} containers one at a time`,
  );
  row(
    "start event → first JSON, median",
    median(figures.ours.latency),
    median(figures.go.latency),
    "ms",
    true,
  );
  row(
    "start event → first JSON, p95",
    percentile(figures.ours.latency, 95),
    percentile(figures.go.latency, 95),
    "ms",
    true,
  );
  row(
    `CPU in the ${IDLE_SECONDS} s after the last container, median`,
    median(figures.ours.idleCpu),
    median(figures.go.idleCpu),
    "ms/s",
  );
  const mem = (which: "ours" | "go", key: "rss" | "private" | "file") =>
    median(figures[which].mem.map((m) => m[key]));
  row("RSS, median", mem("ours", "rss"), mem("go", "rss"), "MiB");
  row(
    "  of which private (anonymous)",
    mem("ours", "private"),
    mem("go", "private"),
    "MiB",
  );
  row("  of which file pages", mem("ours", "file"), mem("go", "file"), "MiB");
} finally {
  await cleanUp();
}
