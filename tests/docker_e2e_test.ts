/**
 * The Docker source end to end against a real dockerd in a network
 * namespace: the agent's tracker observed through a recording forwarder.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canRunDockerd,
  type Dockerd,
  HTTPD,
  runHttpd,
  startDockerd,
  TEST_IMAGE,
} from "./engines/dockerd.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";
import { startAgent } from "../agent/run_agent.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { bindingKey, makeBinding } from "../binding/binding.ts";
import { answeredExactly } from "./engine_answer.ts";
import { waitFor } from "./wait.ts";

const run = runHttpd;

/**
 * What dockerd publishes now, as binding keys: the truth the agent must
 * equal. `docker ps` prints `0.0.0.0:18140->8080/tcp, [::]:18140->8080/tcp`
 * (CLI 23 and later) or `…, :::18140->8080/tcp` (Debian's 20.10, the one
 * first on the PATH under npx).
 */
async function publishedKeys(d: Dockerd): Promise<string[]> {
  const keys = new Set<string>();
  const ports = await d.docker(["ps", "--format", "{{.Ports}}"]);
  for (
    const [, ip, port, protocol] of ports.matchAll(
      /(\[[^\]]*\]|[^\s,]*?):(\d+)->\d+\/(tcp|udp)/g,
    )
  ) {
    const hostIp = ip!.replace(/^\[(.*)\]$/, "$1");
    keys.add(bindingKey(makeBinding(protocol!, hostIp, Number(port))));
  }
  return [...keys].sort();
}

/**
 * Waits (20 s at most) until the forwarder's keys and the tracker's bindings
 * are exactly what dockerd publishes, re-reading `docker ps` each round (a
 * restart policy may still be bringing containers back).
 *
 * @returns The truth they matched.
 */
async function matchesDockerPs(
  d: Dockerd,
  forwarder: RecordingForwarder,
  agent: { readonly tracker: { bindings(): { key: string }[] } },
): Promise<string[]> {
  const sorted = (keys: Iterable<string>) => JSON.stringify([...keys].sort());
  let truth: string[] = [];
  let tracked: string[] = [];
  await waitFor(
    async () => {
      truth = await publishedKeys(d);
      tracked = agent.tracker.bindings().map((binding) => binding.key);
      return sorted(forwarder.keys) === sorted(truth) &&
        sorted(tracked) === sorted(truth);
    },
    20_000,
    () =>
      ` for docker ps's bindings: dockerd publishes ${
        sorted(truth)
      }, the forwarder has ${sorted(forwarder.keys)}, the tracker ${
        sorted(tracked)
      }`,
    { intervalMs: 100 },
  );
  return truth;
}

/**
 * Starts and removes containers in a loop (ports `firstPort` onwards, at most
 * `count` containers, about four alive at a time) until stopped. Commands
 * that fail (dockerd down) are counted and the loop goes on.
 */
function churnContainers(d: Dockerd, firstPort: number, count: number) {
  let stopping = false;
  let started = 0;
  let failed = 0;
  const alive: string[] = [];
  const loop = (async () => {
    for (let i = 0; i < count && !stopping; i++) {
      try {
        if (alive.length >= 4 || (alive.length > 0 && i % 3 === 2)) {
          const name = alive.splice(i % alive.length, 1)[0]!;
          await d.docker(["rm", "-f", name]);
        } else {
          await run(d, `churn${i}`, `${firstPort + i}:8080`);
          alive.push(`churn${i}`);
          started++;
        }
      } catch {
        failed++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  })();
  return {
    started: () => started,
    async stop() {
      stopping = true;
      await loop;
      return { started, failed };
    },
  };
}

/**
 * Creates and starts a container through the Engine API (the CLI cannot
 * carry a label of megabytes) with one label of `labelBytes` bytes.
 */
async function runWithHugeLabel(
  d: Dockerd,
  name: string,
  hostPort: number,
  labelBytes: number,
): Promise<void> {
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: d.socket },
  });
  try {
    const post = async (path: string, body?: unknown) => {
      const response = await fetch(`http://docker${path}`, {
        client,
        method: "POST",
        headers: { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
      return text;
    };
    const created = JSON.parse(
      await post(`/containers/create?name=${name}`, {
        Image: TEST_IMAGE,
        Cmd: HTTPD,
        Labels: { big: "x".repeat(labelBytes) },
        ExposedPorts: { "8080/tcp": {} },
        HostConfig: {
          PortBindings: { "8080/tcp": [{ HostPort: String(hostPort) }] },
        },
      }),
    );
    await post(`/containers/${created.Id}/start`);
  } finally {
    client.close();
  }
}

Deno.test("Docker source against a real dockerd", {
  ignore: ignoreUnless(
    "root, dockerd, busybox and ip netns",
    await canRunDockerd(),
  ),
}, async (t) => {
  const d = await startDockerd();
  const forwarder = new RecordingForwarder();
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const settle = (check: () => boolean, what: string) =>
    forwarder.until(check, what);
  try {
    await run(d, "early", "18100:8080");
    agent = await startAgent({
      ...TEST_OPTIONS,
      ...onlySources("docker"),
      dockerSocket: d.socket,
    }, injected([forwarder]));

    await t.step(
      "a container started before the agent is tracked",
      async () => {
        await settle(() => forwarder.keysWith(18100).length === 2, "early");
        assertEquals(forwarder.keysWith(18100), [
          "tcp/0.0.0.0:18100",
          "tcp/[::]:18100",
        ]);
      },
    );

    await t.step(
      "tcp, udp, 127.0.0.1 and a port range, with container addresses",
      async () => {
        await run(
          d,
          "web",
          "18101:8080",
          "18102:53/udp",
          "127.0.0.1:18103:8080",
          "18110-18112:9000-9002",
        );
        // The ports are posted at start from the configuration; dockerd's
        // answer follows and may add or drop one: wait for the answer.
        const expected = [
          "tcp/0.0.0.0:18100",
          "tcp/0.0.0.0:18101",
          "tcp/0.0.0.0:18110",
          "tcp/0.0.0.0:18111",
          "tcp/0.0.0.0:18112",
          "tcp/127.0.0.1:18103",
          "tcp/[::]:18100",
          "tcp/[::]:18101",
          "tcp/[::]:18110",
          "tcp/[::]:18111",
          "tcp/[::]:18112",
          "udp/0.0.0.0:18102",
          "udp/[::]:18102",
        ];
        await settle(
          () =>
            answeredExactly(
              agent!.tracker,
              [...forwarder.keys].sort(),
              expected,
            ),
          "web's 11 bindings (and early's 2) as dockerd answered them",
        );
        assertEquals([...forwarder.keys].sort(), expected);
        const entry = () =>
          agent!.tracker.get("tcp/127.0.0.1:18103")?.holders[0]?.entry;
        assertEquals(entry()!.name, "web");
        assertEquals(entry()!.containerPort, 8080);
        assertEquals(entry()!.containerIps?.length, 1);
      },
    );

    await t.step("an explicit IPv6 wildcard binding", async () => {
      await run(d, "v6", "[::]:18120:8080");
      await settle(
        () =>
          answeredExactly(agent!.tracker, forwarder.keysWith(18120), [
            "tcp/[::]:18120",
          ]),
        "v6's one binding as dockerd answered it",
      );
      assertEquals(forwarder.keysWith(18120), ["tcp/[::]:18120"]);
    });

    await t.step(
      "a label of 1.1 MiB is read; an event line over the 16 MiB bound is made up for by a snapshot",
      async () => {
        await runWithHugeLabel(d, "biglabel", 18160, 1_100_000);
        await settle(() => forwarder.keysWith(18160).length === 2, "biglabel");
        await runWithHugeLabel(d, "hugelabel", 18161, 17 * 1024 * 1024);
        await settle(
          () => forwarder.keysWith(18161).length === 2,
          "hugelabel, through a snapshot",
        );
        await d.docker(["rm", "-f", "biglabel", "hugelabel"]);
        await settle(
          () =>
            forwarder.keysWith(18160).length === 0 &&
            forwarder.keysWith(18161).length === 0,
          "both removed",
        );
        const docker = agent!.supervisor.status().find((s) =>
          s.name === "docker"
        );
        assertEquals([docker?.state, docker?.restarts], ["connected", 0]);
      },
    );

    await t.step("stop, kill and rm -f remove the ports", async () => {
      await d.docker(["stop", "-t", "1", "web"]);
      await d.docker(["kill", "v6"]);
      await d.docker(["rm", "-f", "early"]);
      await settle(() => forwarder.keys.size === 0, "nothing left");
    });

    await t.step(
      "50 containers started at once are all tracked, then all removed",
      async () => {
        const names = Array.from({ length: 50 }, (_, i) => `bulk${i}`);
        for (let i = 0; i < names.length; i += 10) {
          await Promise.all(
            names.slice(i, i + 10).map((name, j) =>
              run(d, name, `${19000 + i + j}:8080`)
            ),
          );
        }
        await settle(
          () => forwarder.keys.size === 100,
          "50 containers × 2 bindings",
        );
        await d.docker(["rm", "-f", ...names]);
        await settle(() => forwarder.keys.size === 0, "all removed");
      },
    );

    await t.step("the tracker converges after dockerd restarts", async () => {
      await d.docker([
        "run",
        "-d",
        "--name",
        "always",
        "--restart=always",
        "-p",
        "18130:8080",
        TEST_IMAGE,
        ...HTTPD,
      ]);
      await run(d, "once", "18131:8080");
      await settle(() => forwarder.keys.size === 4, "always + once");
      await d.restart();
      await run(d, "after", "18132:8080");
      const truth = await matchesDockerPs(d, forwarder, agent!);
      // "once" is whatever dockerd says (stopped with the daemon, normally).
      for (const port of [18130, 18132]) {
        assert(truth.includes(`tcp/0.0.0.0:${port}`), `${port} is published`);
      }
      const docker = agent!.supervisor.status().find((s) =>
        s.name === "docker"
      );
      assertEquals(docker?.state, "connected");
      assertEquals(
        docker?.restarts,
        0,
        "the worker reconnected; it did not crash",
      );
    });
    await t.step(
      "dockerd killed (SIGKILL) while containers start and stop: tracker and forwarder equal docker ps",
      async () => {
        // Survives the crash through its restart policy: must come back.
        await d.docker([
          "run",
          "-d",
          "--name",
          "crash-always",
          "--restart=always",
          "-p",
          "18140:8080",
          TEST_IMAGE,
          ...HTTPD,
        ]);
        const churn = churnContainers(d, 18200, 100);
        await settle(() => churn.started() >= 6, "churn under way");
        await d.crashAndRestart();
        const startedAtRestart = churn.started();
        await settle(
          () => churn.started() >= startedAtRestart + 6,
          "churn after the restart",
        );
        const { started, failed } = await churn.stop();
        await run(d, "after-crash", "18141:8080");
        // Failed docker commands prove the churn ran into the crash.
        assert(
          started >= 12 && failed > 0,
          `${started} containers started, ${failed} commands failed while dockerd was down`,
        );
        const truth = await matchesDockerPs(d, forwarder, agent!);
        assert(truth.includes("tcp/0.0.0.0:18140"), "crash-always is back");
        assert(
          truth.includes("tcp/0.0.0.0:18141"),
          "after-crash is published",
        );
        const docker = agent!.supervisor.status().find((s) =>
          s.name === "docker"
        );
        assertEquals([docker?.state, docker?.restarts], ["connected", 0]);
      },
    );
    await t.step(
      "an agent started with containers running stops when asked",
      async () => {
        // Reading the events stream used to outlive the abort after the
        // start-up inspects: the worker was terminated at the grace time.
        const second = new RecordingForwarder();
        const fresh = await startAgent({
          ...TEST_OPTIONS,
          ...onlySources("docker"),
          dockerSocket: d.socket,
        }, injected([second]));
        try {
          await second.until(
            () => second.keysWith(18141).length === 2,
            "the running containers",
          );
          await Promise.all(
            Array.from(
              { length: 3 },
              (_, i) => run(d, `burst${i}`, `${18150 + i}:8080`),
            ),
          );
          await second.until(
            () => second.keysWith(18152).length === 2,
            "the containers started at once",
          );
          // Stop once the inspects of the start-up and of the burst are
          // done: the moment the events stream alone is being read.
          await second.until(
            () =>
              [18150, 18151, 18152].every((port) =>
                answeredExactly(fresh.tracker, second.keysWith(port), [
                  `tcp/0.0.0.0:${port}`,
                  `tcp/[::]:${port}`,
                ])
              ),
            "the burst's bindings as dockerd answered them",
          );
        } finally {
          const report = await fresh.stop();
          assertEquals(report.terminatedSources, []);
        }
      },
    );
  } finally {
    await agent?.stop();
    await d.stop();
  }
});
