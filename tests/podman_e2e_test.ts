/**
 * The Docker source end to end against Debian's real Podman 4.3 serving the
 * Docker API (a program nobody here wrote): its own event vocabulary
 * (`died`/`remove` in filters), pods, HostIp "" and a service restart. The
 * agent's tracker is observed through a recording forwarder.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { canRunPodman, PODMAN_IMAGE, startPodman } from "./engines/podman.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";
import { startAgent } from "../agent/run_agent.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { startNetnsAgent } from "./netns_agent.ts";
import { answeredExactly, SourceMessages } from "./engine_answer.ts";

const HTTPD = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];

Deno.test("Docker source against Podman's Docker API", {
  ignore: ignoreUnless(
    "root, podman, netavark and ip netns",
    await canRunPodman(),
  ),
}, async (t) => {
  const pm = await startPodman();
  const forwarder = new RecordingForwarder();
  const messages = new SourceMessages();
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const run = (name: string, publish: string[], command = HTTPD) =>
    pm.podman([
      "run",
      "-d",
      "--name",
      name,
      ...publish.flatMap((p) => ["-p", p]),
      PODMAN_IMAGE,
      ...command,
    ]);
  /** Runs `action`, then waits until no key has `port`. */
  const removal = async (port: number, action: () => Promise<unknown>) => {
    await action();
    await forwarder.until(
      () => forwarder.keysWith(port).length === 0,
      `port ${port} removed`,
    );
  };
  try {
    await run("early", ["18300:8080"]);
    agent = await startAgent({
      ...TEST_OPTIONS,
      ...onlySources("docker"),
      dockerSocket: pm.socket,
    }, { ...injected([forwarder]), onSourceMessage: messages.onSourceMessage });

    await t.step(
      "a container running before the agent is tracked",
      async () => {
        await forwarder.until(
          () => forwarder.keysWith(18300).length === 1,
          "early",
        );
        // Podman reports HostIp "" for every address.
        assertEquals(forwarder.keysWith(18300), ["tcp/0.0.0.0:18300"]);
      },
    );

    await t.step("tcp, udp, 127.0.0.1 and a range", async () => {
      await run("web", [
        "18301:8080",
        "18302:53/udp",
        "127.0.0.1:18303:8080",
        "18310-18312:9000-9002",
      ]);
      // The ports are posted at start from the configuration; the engine's
      // answer follows and may add or drop one: wait for the answer.
      const expected = [
        "tcp/0.0.0.0:18300",
        "tcp/0.0.0.0:18301",
        "tcp/0.0.0.0:18310",
        "tcp/0.0.0.0:18311",
        "tcp/0.0.0.0:18312",
        "tcp/127.0.0.1:18303",
        "udp/0.0.0.0:18302",
      ];
      await forwarder.until(
        () =>
          answeredExactly(agent!.tracker, [...forwarder.keys].sort(), expected),
        "web's 6 bindings (and early's 1) as Podman answered them",
      );
      assertEquals([...forwarder.keys].sort(), expected);
      const entry = agent!.tracker.get("tcp/127.0.0.1:18303")?.holders[0]
        ?.entry;
      assertEquals([entry!.name, entry!.containerPort], ["web", 8080]);
      assertEquals(entry!.containerIps?.length, 1);
    });

    await t.step("an IPv6-only binding", async () => {
      await run("v6", ["[::]:18320:8080"]);
      await forwarder.until(
        () =>
          answeredExactly(agent!.tracker, forwarder.keysWith(18320), [
            "tcp/[::]:18320",
          ]),
        "v6's one binding as Podman answered it",
      );
      assertEquals(forwarder.keysWith(18320), ["tcp/[::]:18320"]);
    });

    await t.step(
      "kill, rm -f, stop and a container exiting by itself each remove its ports",
      async () => {
        await removal(18320, () => pm.podman(["kill", "v6"]));
        await removal(18300, () => pm.podman(["rm", "-f", "-t", "0", "early"]));
        await run("brief", ["18330:8080"], ["sleep", "1"]);
        await forwarder.until(
          () => forwarder.keysWith(18330).length === 1,
          "brief",
        );
        await forwarder.until(
          () => forwarder.keysWith(18330).length === 0,
          "brief exited by itself",
        );
        await removal(18301, () => pm.podman(["stop", "-t", "0", "web"]));
        assertEquals([...forwarder.keys], []);
      },
    );

    await t.step(
      "a pod's ports: one binding, owned once, gone with the pod",
      async () => {
        await pm.podman([
          "pod",
          "create",
          "--name",
          "pod1",
          "-p",
          "18340:8080",
        ]);
        const members: string[] = [];
        for (
          const [name, command] of [["pod1-web", HTTPD], ["pod1-side", [
            "sleep",
            "1000",
          ]]] as const
        ) {
          const id = await pm.podman([
            "run",
            "-d",
            "--pod",
            "pod1",
            "--name",
            name,
            PODMAN_IMAGE,
            ...command,
          ]);
          members.push(id.trim());
        }
        // Podman lists the infra container's ports on every member: assert
        // once the engine's answer about each member has been applied.
        await forwarder.until(
          () =>
            forwarder.keysWith(18340).length === 1 &&
            members.every((id) => messages.answered(id)),
          "the pod's port, and Podman's answer about both members",
        );
        const holders = agent!.tracker.bindings()
          .find((b) => b.key === "tcp/0.0.0.0:18340")?.holders ?? [];
        assertEquals(holders.length, 1, "owned once, by the infra container");
        assert(
          holders[0]!.entry.name?.endsWith("-infra"),
          holders[0]!.entry.name,
        );
        await removal(
          18340,
          () => pm.podman(["pod", "rm", "-f", "-t", "0", "pod1"]),
        );
      },
    );

    await t.step(
      "the iptables source reads the NETAVARK-DN rules Podman writes",
      async () => {
        const rules = await startNetnsAgent(pm.ns, {
          ...onlySources("iptables"),
          iptablesResyncMs: 600_000, // seen through notifications only
        });
        try {
          await run("natted", ["18360:8080", "127.0.0.1:18361:53/udp"]);
          await rules.until(
            () =>
              rules.keys.has("tcp/0.0.0.0:18360") &&
              rules.keys.has("udp/127.0.0.1:18361"),
            "netavark's rules",
          );
          await pm.podman(["rm", "-f", "-t", "0", "natted"]);
          await rules.until(
            () => ![...rules.keys].some((key) => /:1836[01]$/.test(key)),
            "the rules gone",
          );
        } finally {
          assertEquals(await rules.stop(), 0);
        }
      },
    );

    await t.step(
      "a restart of the Podman service: changes while it was down are caught up",
      async () => {
        await run("steady", ["18350:8080"]);
        await run("doomed", ["18351:8080"]);
        await forwarder.until(
          () => forwarder.keys.size === 2,
          "steady, doomed",
        );
        await pm.stopService();
        // Podman needs no daemon: the CLI still works while the API is down.
        await pm.podman(["rm", "-f", "-t", "0", "doomed"]);
        await run("newcomer", ["18352:8080"]);
        await pm.startService();
        await forwarder.until(
          () =>
            forwarder.keysWith(18351).length === 0 &&
            forwarder.keysWith(18352).length === 1,
          "the state after the restart",
        );
        assertEquals([...forwarder.keys].sort(), [
          "tcp/0.0.0.0:18350",
          "tcp/0.0.0.0:18352",
        ]);
        const docker = agent!.supervisor.status().find((s) =>
          s.name === "docker"
        );
        assertEquals([docker?.state, docker?.restarts], ["connected", 0]);
        // And events flow again.
        await removal(
          18350,
          () => pm.podman(["rm", "-f", "-t", "0", "steady"]),
        );
      },
    );
  } finally {
    await agent?.stop();
    await pm.stop();
  }
});
