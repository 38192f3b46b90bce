/**
 * The containerd source end to end against a real containerd in a network
 * namespace, driven by `ctr` (docs/testing.md): the agent's tracker observed
 * through a recording forwarder.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canRunContainerd,
  type Containerd,
  startContainerd,
} from "./engines/containerd.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";
import { startAgent } from "../agent/run_agent.ts";

interface Mapping {
  readonly HostPort: number;
  readonly ContainerPort: number;
  readonly Protocol: string;
  readonly HostIP: string;
}

function tcp(port: number, hostIp = "0.0.0.0"): Mapping {
  return { HostPort: port, ContainerPort: 80, Protocol: "tcp", HostIP: hostIp };
}

function portsLabel(...mappings: Mapping[]): Record<string, string> {
  return { "nerdctl/ports": JSON.stringify(mappings) };
}

async function taskPid(c: Containerd, namespace: string, id: string) {
  const row = (await c.ctr(namespace, ["task", "ls"])).split("\n")
    .find((line) => line.split(/\s+/)[0] === id);
  const pid = Number(row?.split(/\s+/)[1]);
  if (!(pid > 0)) throw new Error(`no task pid for ${namespace}/${id}`);
  return pid;
}

Deno.test("containerd source against a real containerd", {
  ignore: ignoreUnless(
    "root, containerd, ctr, runc, busybox and ip netns",
    await canRunContainerd(),
  ),
}, async (t) => {
  const c = await startContainerd();
  const forwarder = new RecordingForwarder();
  const nerdctlRoot = `${c.dir}/nerdctl`;
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const settle = (check: () => boolean, what: string) =>
    forwarder.until(check, what);
  try {
    await c.run("ga", "early", { labels: portsLabel(tcp(18200)) });
    agent = await startAgent({
      ...TEST_OPTIONS,
      ...onlySources("containerd"),
      containerdSocket: c.socket,
      nerdctlDataRoot: nerdctlRoot,
    }, injected([forwarder]));

    await t.step(
      "a container started before the agent is tracked",
      async () => {
        await settle(() => forwarder.keys.has("tcp/0.0.0.0:18200"), "early");
        assertEquals([...forwarder.keys], ["tcp/0.0.0.0:18200"]);
      },
    );

    await t.step(
      "the same id in two namespaces: tcp, udp, 127.0.0.1 and ::",
      async () => {
        await c.run("ga", "web", {
          labels: {
            ...portsLabel(
              tcp(18201),
              { ...tcp(18202), Protocol: "udp" },
              tcp(18203, "127.0.0.1"),
              tcp(18204, "::"),
            ),
            "nerdctl/name": "web-ga",
          },
        });
        await c.run("other-ns", "web", { labels: portsLabel(tcp(18210)) });
        await settle(() => forwarder.keys.size === 6, "web in two namespaces");
        assertEquals([...forwarder.keys].sort(), [
          "tcp/0.0.0.0:18200",
          "tcp/0.0.0.0:18201",
          "tcp/0.0.0.0:18210",
          "tcp/127.0.0.1:18203",
          "tcp/[::]:18204",
          "udp/0.0.0.0:18202",
        ]);
        const ga = forwarder.details.get("tcp/0.0.0.0:18201")!.holders[0]!
          .entry;
        assertEquals(
          [ga.ownerId, ga.namespace, ga.name, ga.containerPort],
          ["ga/web", "ga", "web-ga", 80],
        );
        const other = forwarder.details.get("tcp/0.0.0.0:18210")!.holders[0]!
          .entry;
        assertEquals([other.ownerId, other.name], ["other-ns/web", "web"]);
      },
    );

    await t.step("an exec process exiting keeps the ports", async () => {
      await c.ctr("ga", ["task", "exec", "--exec-id", "probe", "web", "true"]);
      // The exec's exit is handled without a round trip as soon as it is
      // read; the marker's start is read after it and needs one. So once
      // the marker is tracked, the exit has been handled.
      await c.run("ga", "marker", { labels: portsLabel(tcp(18220)) });
      await settle(() => forwarder.keys.has("tcp/0.0.0.0:18220"), "marker");
      assertEquals(forwarder.keysWith(18201), ["tcp/0.0.0.0:18201"]);
      assertEquals(forwarder.keys.size, 7);
    });

    await t.step("a label update replaces the ports", async () => {
      await c.ctr("ga", [
        "container",
        "label",
        "marker",
        `nerdctl/ports=${JSON.stringify([tcp(18221), tcp(18222)])}`,
      ]);
      await settle(
        () =>
          !forwarder.keys.has("tcp/0.0.0.0:18220") &&
          forwarder.keys.has("tcp/0.0.0.0:18222"),
        "marker's new ports",
      );
      assertEquals(forwarder.keysWith(18221), ["tcp/0.0.0.0:18221"]);
    });

    await t.step("ports from nerdctl's network-config.json", async () => {
      const stateDir = `${nerdctlRoot}/containers/ga/fromfile`;
      await Deno.mkdir(stateDir, { recursive: true });
      await Deno.writeTextFile(
        `${stateDir}/network-config.json`,
        JSON.stringify({ portMappings: [tcp(18240)] }),
      );
      await c.run("ga", "fromfile", {
        labels: { "nerdctl/state-dir": stateDir },
      });
      await settle(() => forwarder.keys.has("tcp/0.0.0.0:18240"), "fromfile");
    });

    await t.step(
      "hostile labels and a state dir outside the data root are skipped",
      async () => {
        await c.run("ga", "badjson", {
          labels: { "nerdctl/ports": "[{not json" },
        });
        await c.run("ga", "badport", {
          labels: portsLabel(tcp(70000), { ...tcp(18251), Protocol: "sctp" }),
        });
        await c.run("ga", "outside", {
          labels: { "nerdctl/state-dir": "/etc" },
        });
        await c.run("ga", "after-bad", { labels: portsLabel(tcp(18252)) });
        await settle(
          () => forwarder.keys.has("tcp/0.0.0.0:18252"),
          "after-bad",
        );
        assertEquals(forwarder.keysWith(18251), []);
        assertEquals(forwarder.keys.size, 10);
        const status = agent!.supervisor.status().find((s) =>
          s.name === "containerd"
        );
        assertEquals([status?.state, status?.restarts], ["connected", 0]);
      },
    );

    await t.step("kill removes the ports; delete of the rest too", async () => {
      await c.kill("ga", "web");
      await settle(() => forwarder.keysWith(18201).length === 0, "web killed");
      assertEquals(forwarder.keysWith(18210), ["tcp/0.0.0.0:18210"]);
      for (const id of ["early", "marker", "fromfile", "after-bad"]) {
        await c.remove("ga", id);
      }
      await c.remove("other-ns", "web");
      await settle(() => forwarder.keys.size === 0, "nothing left");
    });

    await t.step(
      "containerd restarted while containers change: converges",
      async () => {
        await c.run("ga", "survivor", { labels: portsLabel(tcp(18230)) });
        await c.run("ga", "doomed", { labels: portsLabel(tcp(18231)) });
        await settle(() => forwarder.keys.size === 2, "survivor + doomed");
        const doomedPid = await taskPid(c, "ga", "doomed");
        await c.stopDaemon();
        // While containerd is down, doomed's process dies: no event can
        // tell the agent, only the snapshot after the reconnect.
        Deno.kill(doomedPid, "SIGKILL");
        await settle(
          () =>
            agent!.supervisor.status().find((s) => s.name === "containerd")
              ?.state === "reconnecting",
          "the source to notice",
        );
        await c.startDaemon();
        await c.run("ga", "later", { labels: portsLabel(tcp(18232)) });
        await settle(
          () =>
            forwarder.keys.has("tcp/0.0.0.0:18230") &&
            !forwarder.keys.has("tcp/0.0.0.0:18231") &&
            forwarder.keys.has("tcp/0.0.0.0:18232"),
          "survivor kept, doomed gone, later added",
        );
        assertEquals(forwarder.keys.size, 2);
        const status = agent!.supervisor.status().find((s) =>
          s.name === "containerd"
        );
        assertEquals(
          [status?.state, status?.restarts],
          ["connected", 0],
          "the worker reconnected; it did not crash",
        );
        await c.remove("ga", "survivor");
        await c.remove("ga", "doomed");
        await c.remove("ga", "later");
        await settle(() => forwarder.keys.size === 0, "nothing left");
      },
    );

    await t.step(
      "containerd killed (SIGKILL), a container dying meanwhile, churn on restart: converges",
      async () => {
        const port = (i: number) => 19200 + i;
        for (let i = 0; i < 4; i++) {
          await c.run("ga", `crash${i}`, { labels: portsLabel(tcp(port(i))) });
        }
        await settle(() => forwarder.keys.size === 4, "4 before the crash");
        const victim = await taskPid(c, "ga", "crash0");
        await c.killDaemon();
        Deno.kill(victim, "SIGKILL"); // dies while nobody watches
        await c.startDaemon();
        // Churn right after the restart, while the source reconnects.
        await Promise.all(
          [4, 5, 6].map((i) =>
            c.run("ga", `crash${i}`, { labels: portsLabel(tcp(port(i))) })
          ),
        );
        await c.kill("ga", "crash1");
        // The truth: the running tasks, as containerd sees them now.
        const running = (await c.ctr("ga", ["task", "ls"])).split("\n")
          .filter((line) => /\sRUNNING\s*$/.test(line))
          .map((line) => line.split(/\s+/)[0]!)
          .filter((id) => id.startsWith("crash"));
        const truth = running.map((id) =>
          `tcp/0.0.0.0:${port(Number(id.slice(5)))}`
        )
          .sort();
        assert(!running.includes("crash0"), "the killed task is not running");
        await settle(
          () =>
            forwarder.keys.size === truth.length &&
            truth.every((key) => forwarder.keys.has(key)),
          `exactly ${JSON.stringify(truth)}`,
        );
        const status = agent!.supervisor.status().find((s) =>
          s.name === "containerd"
        );
        assertEquals([status?.state, status?.restarts], ["connected", 0]);
        for (let i = 0; i < 7; i++) {
          await c.remove("ga", `crash${i}`).catch(() => {});
        }
        await settle(() => forwarder.keys.size === 0, "nothing left");
      },
    );

    await t.step(
      "containers with ~4.8 MB of labels each: read, and never stop the others",
      async () => {
        // 1,200 labels of ~4 KB each (containerd allows 4,096 bytes per
        // label), added in batches (a command line is bounded).
        const value = "v".repeat(4000);
        const heavy = ["heavy0", "heavy1", "heavy2", "heavy3"];
        for (const [i, id] of heavy.entries()) {
          await c.run("big-ns", id, { labels: portsLabel(tcp(18260 + i)) });
          for (let batch = 0; batch < 6; batch++) {
            await c.ctr("big-ns", [
              "containers",
              "label",
              id,
              ...Array.from(
                { length: 200 },
                (_, j) => `ga.big.${batch * 200 + j}=${value}`,
              ),
            ]);
          }
        }
        await c.run("big-ns", "light", { labels: portsLabel(tcp(18264)) });
        await c.run("small-ns", "fine", { labels: portsLabel(tcp(18265)) });
        await c.run("small-ns", "doomed", { labels: portsLabel(tcp(18266)) });
        const all = [0, 1, 2, 3, 4, 5, 6].map((i) =>
          `tcp/0.0.0.0:${18260 + i}`
        );
        await settle(
          () => all.every((key) => forwarder.keys.has(key)),
          "every container, the heavy ones read alone (4.8 MB each)",
        );
        // After a restart the snapshot must list big-ns: ~19 MB of labels,
        // more than containerd sends in one reply. A container dies while
        // containerd is down.
        const doomedPid = await taskPid(c, "small-ns", "doomed");
        await c.stopDaemon();
        Deno.kill(doomedPid, "SIGKILL");
        await c.startDaemon();
        await settle(
          () =>
            all.slice(0, 6).every((key) => forwarder.keys.has(key)) &&
            !forwarder.keys.has("tcp/0.0.0.0:18266"),
          "the snapshot: every heavy and light container kept, doomed gone",
        );
        const status = agent!.supervisor.status().find((s) =>
          s.name === "containerd"
        );
        assertEquals([status?.state, status?.restarts], ["connected", 0]);
        for (const id of [...heavy, "light"]) await c.remove("big-ns", id);
        await c.remove("small-ns", "fine");
        await c.remove("small-ns", "doomed");
        await settle(() => forwarder.keys.size === 0, "nothing left");
      },
    );

    await t.step(
      "30 containers started at once are all tracked, then all removed",
      async () => {
        const ids = Array.from({ length: 30 }, (_, i) => `bulk${i}`);
        await Promise.all(
          ids.map((id, i) =>
            c.run(i % 2 ? "ga" : "bulk-ns", id, {
              labels: portsLabel(tcp(19100 + i)),
            })
          ),
        );
        await settle(() => forwarder.keys.size === 30, "30 containers");
        await Promise.all(
          ids.map((id, i) => c.remove(i % 2 ? "ga" : "bulk-ns", id)),
        );
        await settle(() => forwarder.keys.size === 0, "all removed");
      },
    );
  } finally {
    const report = await agent?.stop();
    await c.stop();
    assert(report === undefined || report.clean, "the agent stopped cleanly");
    assertEquals(report?.terminatedSources ?? [], [], "the worker stopped");
  }
});
