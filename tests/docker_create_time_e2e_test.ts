/**
 * Create-time knowledge in the Docker source, against a real dockerd and
 * Debian's real Podman: a container's certain bindings (explicit host
 * ports, from its configuration) are posted the moment it starts, before
 * the engine's answer; the answer confirms them and may only add (dockerd's
 * `::` twins). What the configuration leaves open (a random host port,
 * `-P`), the host network, a pod's member and a container the agent never
 * saw created wait for the answer. Every case ends with no misprediction
 * and no remove of a live binding. See docs/protocols.md, "Docker Engine
 * API".
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canRunDockerd,
  HTTPD,
  startDockerd,
  TEST_IMAGE,
} from "./engines/dockerd.ts";
import { canRunPodman, PODMAN_IMAGE, startPodman } from "./engines/podman.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";
import { startAgent } from "../agent/run_agent.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { bindingKey } from "../binding/binding.ts";
import type { PortMessage } from "../sources/messages.ts";

/** One engine as these tests drive it. */
interface Engine {
  /** "dockerd" or "podman". */
  readonly name: string;
  /** Its Docker API socket. */
  readonly socket: string;
  /** Its CLI; resolves with stdout. */
  cli(args: readonly string[]): Promise<string>;
  /** The image with busybox. */
  readonly image: string;
  /** It publishes a `::` twin of each binding on all IPv4 addresses. */
  readonly twins: boolean;
  /**
   * It picks a random host port when it creates the container and stores it
   * in the configuration (Podman), rather than at start (dockerd).
   */
  readonly randomAtCreate: boolean;
}

/** An upsert of the Docker source, as the main thread received it. */
interface Upsert {
  readonly ownerId: string;
  readonly keys: string[];
  /** It carries container addresses: the engine's answer, not a prediction. */
  readonly answered: boolean;
}

const tcp = (ip: string, port: number) => `tcp/${ip}:${port}`;
const udp = (ip: string, port: number) => `udp/${ip}:${port}`;

async function createTimeSteps(t: Deno.TestContext, engine: Engine) {
  const forwarder = new RecordingForwarder();
  const upserts: Upsert[] = [];
  const onSourceMessage = (source: string, message: PortMessage) => {
    if (source !== "docker" || message.type !== "upsert") return;
    upserts.push({
      ownerId: message.ownerId,
      keys: message.entries.map((e) => bindingKey(e.binding)).sort(),
      answered: message.entries.some((e) => e.containerIps !== undefined),
    });
  };
  const id = async (name: string) =>
    (await engine.cli(["inspect", "-f", "{{.Id}}", name])).trim();
  const httpd = (...args: string[]) => [
    ...args,
    engine.image,
    ...HTTPD,
  ];
  // Created before the agent runs: it never sees this container's create.
  await engine.cli(httpd("create", "--name", "before", "-p", "18540:8080"));
  const agent = await startAgent({
    ...TEST_OPTIONS,
    ...onlySources("docker"),
    dockerSocket: engine.socket,
  }, { ...injected([forwarder]), onSourceMessage });
  const docker = () =>
    agent.supervisor.status().find((s) => s.name === "docker");
  const twinsOf = (keys: string[]) =>
    engine.twins
      ? keys.flatMap((key) =>
        key.includes("/0.0.0.0:") ? [key, key.replace("0.0.0.0", "[::]")] : [
          key,
        ]
      ).sort()
      : [...keys].sort();

  /**
   * Runs `command` on container `name` and waits until its upserts since
   * then are complete (a prediction and the answer, or the answer alone)
   * and the forwarder has `answered`. Checks the first upsert is exactly
   * `predicted` (none when empty), the last is `answered`, and no binding
   * of it was removed after it was added.
   */
  const started = async (
    name: string,
    command: string[],
    predicted: string[],
    answered: string[],
  ) => {
    const mark = upserts.length;
    const history = forwarder.history.length;
    await engine.cli(command);
    const owner = await id(name);
    const mine = () => upserts.slice(mark).filter((u) => u.ownerId === owner);
    await forwarder.until(
      () =>
        mine().length >= (predicted.length > 0 ? 2 : 1) &&
        mine().at(-1)!.answered === (answered.length > 0) &&
        answered.every((key) => forwarder.keys.has(key)),
      `${name}: ${predicted.length > 0 ? "prediction and " : ""}answer`,
    );
    const seen = mine();
    if (predicted.length > 0) {
      assertEquals(seen[0], {
        ownerId: owner,
        keys: predicted.sort(),
        answered: false,
      });
    } else {
      assert(
        seen.every((u) => u.answered || u.keys.length === 0),
        `nothing posted before the answer: ${JSON.stringify(seen)}`,
      );
    }
    assertEquals(seen.at(-1)!.keys, answered.sort());
    for (const key of answered) {
      const calls = forwarder.history.slice(history).filter((call) =>
        call.slice(1) === key
      );
      assertEquals(
        calls.filter((call) => call.startsWith("+")).length,
        1,
        `${key} added once: ${calls.join(" ")}`,
      );
      assertEquals(
        calls.at(-1),
        `+${key}`,
        `${key} not removed after: ${calls.join(" ")}`,
      );
    }
    assertEquals(docker()?.counters?.mispredictions, 0, "no misprediction");
  };

  try {
    await forwarder.until(
      () =>
        docker()?.state === "connected" &&
        docker()?.counters?.mispredictions === 0,
      "the source connected, its counters sent",
    );

    const explicit = [
      tcp("0.0.0.0", 18501),
      tcp("127.0.0.1", 18502),
      udp("0.0.0.0", 18503),
      tcp("0.0.0.0", 18504),
      tcp("0.0.0.0", 18505),
      tcp("0.0.0.0", 18506),
    ];
    await t.step(
      "explicit, 127.0.0.1, udp and a range: posted at start, then confirmed",
      () =>
        started(
          "known",
          httpd(
            "run",
            "-d",
            "--name",
            "known",
            "-p",
            "18501:8080",
            "-p",
            "127.0.0.1:18502:8080",
            "-p",
            "18503:53/udp",
            "-p",
            "18504-18506:9000-9002",
          ),
          explicit,
          twinsOf(explicit),
        ),
    );

    await t.step("restart: posted again at once", () =>
      started(
        "known",
        ["restart", "-t", "0", "known"],
        explicit,
        twinsOf(explicit),
      ));

    await t.step("create, then start", async () => {
      await engine.cli(httpd("create", "--name", "cs", "-p", "18520:8080"));
      await started(
        "cs",
        ["start", "cs"],
        [tcp("0.0.0.0", 18520)],
        twinsOf([tcp("0.0.0.0", 18520)]),
      );
    });

    await t.step("stop, then start", async () => {
      await engine.cli(["stop", "-t", "0", "cs"]);
      await forwarder.until(
        () => forwarder.keysWith(18520).length === 0,
        "cs stopped",
      );
      await started(
        "cs",
        ["start", "cs"],
        [tcp("0.0.0.0", 18520)],
        twinsOf([tcp("0.0.0.0", 18520)]),
      );
    });

    await t.step(
      "created before the agent: the answer at start, then known at restart",
      async () => {
        const keys = twinsOf([tcp("0.0.0.0", 18540)]);
        await started("before", ["start", "before"], [], keys);
        await started(
          "before",
          ["restart", "-t", "0", "before"],
          [tcp("0.0.0.0", 18540)],
          keys,
        );
      },
    );

    await t.step(
      engine.randomAtCreate
        ? "a random host port and -P: chosen at create, so posted at start"
        : "a random host port and -P wait for the answer",
      async () => {
        for (
          const [name, publish] of [
            ["random", ["-p", "8080"]],
            ["all", ["-P", "--expose", "8080"]],
          ] as const
        ) {
          const mark = upserts.length;
          await engine.cli(httpd("run", "-d", "--name", name, ...publish));
          const owner = await id(name);
          const mine = () =>
            upserts.slice(mark).filter((u) => u.ownerId === owner);
          await forwarder.until(
            () => mine().some((u) => u.answered),
            `${name}'s answer`,
          );
          const answer = mine().find((u) => u.answered)!;
          assert(answer.keys.length > 0, JSON.stringify(mine()));
          assertEquals(
            mine().filter((u) => !u.answered).map((u) => u.keys),
            engine.randomAtCreate ? [answer.keys] : [],
            `posted before the answer: ${JSON.stringify(mine())}`,
          );
        }
        assertEquals(docker()?.counters?.mispredictions, 0);
      },
    );

    await t.step("the host network publishes nothing", () =>
      started(
        "hostnet",
        [
          "run",
          "-d",
          "--name",
          "hostnet",
          "--network",
          "host",
          engine.image,
          "busybox",
          "httpd",
          "-f",
          "-p",
          "18530",
          "-h",
          "/www",
        ],
        [],
        [],
      ));

    await t.step(
      "another container's network: its member owns nothing",
      async () => {
        if (engine.name === "podman") {
          // A pod: the infra container holds the pod's ports.
          await engine.cli([
            "pod",
            "create",
            "--name",
            "pod1",
            "-p",
            "18535:8080",
          ]);
          const infra = (await engine.cli([
            "pod",
            "inspect",
            "-f",
            "{{.InfraContainerID}}",
            "pod1",
          ])).trim();
          const mark = upserts.length;
          await engine.cli(
            httpd("run", "-d", "--pod", "pod1", "--name", "member"),
          );
          const member = await id("member");
          await forwarder.until(
            () =>
              upserts.slice(mark).some((u) => u.ownerId === member) &&
              upserts.slice(mark).some((u) =>
                u.ownerId === infra && u.answered
              ),
            "the pod's infra container and member",
          );
          const seen = upserts.slice(mark);
          assertEquals(
            seen.find((u) => u.ownerId === infra),
            { ownerId: infra, keys: [tcp("0.0.0.0", 18535)], answered: false },
            "the infra container's port posted at its start",
          );
          assert(
            seen.filter((u) => u.ownerId === member).every((u) =>
              u.keys.length === 0
            ),
            JSON.stringify(seen),
          );
          const holders = agent.tracker.bindings()
            .find((b) => b.key === tcp("0.0.0.0", 18535))?.holders ?? [];
          assertEquals(holders.length, 1, "owned once, by the infra container");
        } else {
          await started(
            "member",
            httpd(
              "run",
              "-d",
              "--name",
              "member",
              "--network",
              "container:known",
            ),
            [],
            [],
          );
        }
        assertEquals(docker()?.counters?.mispredictions, 0);
      },
    );

    await t.step("removed: every port goes, nothing mispredicted", async () => {
      await engine.cli([
        "rm",
        "-f",
        ...(engine.name === "podman" ? ["-t", "0"] : []),
        "member",
        "hostnet",
        "random",
        "all",
        "before",
        "cs",
        "known",
      ]);
      if (engine.name === "podman") {
        await engine.cli(["pod", "rm", "-f", "-t", "0", "pod1"]);
      }
      await forwarder.until(() => forwarder.keys.size === 0, "nothing left");
      assertEquals(docker()?.counters?.mispredictions, 0);
    });
  } finally {
    await agent.stop();
  }
}

Deno.test(
  "Docker source: ports known at create are posted at start (real dockerd)",
  {
    ignore: ignoreUnless(
      "root, dockerd, busybox and ip netns",
      await canRunDockerd(),
    ),
  },
  async (t) => {
    const d = await startDockerd();
    try {
      await createTimeSteps(t, {
        name: "dockerd",
        socket: d.socket,
        cli: (args) => d.docker([...args]),
        image: TEST_IMAGE,
        twins: true,
        randomAtCreate: false,
      });
    } finally {
      await d.stop();
    }
  },
);

Deno.test(
  "Docker source: ports known at create are posted at start (real Podman)",
  {
    ignore: ignoreUnless(
      "root, podman, netavark and ip netns",
      await canRunPodman(),
    ),
  },
  async (t) => {
    const pm = await startPodman();
    try {
      await createTimeSteps(t, {
        name: "podman",
        socket: pm.socket,
        cli: (args) => pm.podman(args),
        image: PODMAN_IMAGE,
        twins: false,
        randomAtCreate: true,
      });
    } finally {
      await pm.stop();
    }
  },
);
