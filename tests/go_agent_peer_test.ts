/**
 * The Go agent v0.3.19 (../shared/peers, the program this one replaces) as
 * a peer for the PortMapping bytes: both agents run in privileged mode in
 * one real dockerd's network namespace, each sending to a receiver of its
 * own, through the same containers; the two sets of messages must be the
 * same bytes, connectAddrs included. Where ours differs on purpose, the
 * difference is named in DIFFERENCES_ON_PURPOSE with its reason, and the
 * comparison undoes exactly that difference and nothing else.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canRunDockerd,
  type Dockerd,
  HTTPD,
  startDockerd,
  TEST_IMAGE,
} from "./engines/dockerd.ts";
import { haveGoAgent, spawnGoAgent } from "./engines/go_agent.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { collectText } from "./agent_process.ts";
import { ignoreUnless } from "./requirements.ts";
import { waitFor } from "./wait.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * How our messages differ from the Go agent's on purpose, each with why.
 * The comparison below undoes these and only these.
 */
export const DIFFERENCES_ON_PURPOSE: readonly {
  what: string;
  why: string;
}[] = [
  {
    what:
      "one message per binding, where the Go agent sends one per container with all of its bindings",
    why:
      "the agent tracks bindings, not containers: a binding held by two owners, or moved from one to another, is added and removed once; a failed delivery is retried for that binding alone; the privileged service applies each message's ports on their own, so the host ends with the same ports either way",
  },
  {
    what: "the order of messages across bindings and containers",
    why:
      "both agents send as events arrive, and neither promises an order between containers",
  },
];

/** A message per binding, as the Go agent writes one with a single binding. */
function perBinding(message: string): string[] {
  const parsed = JSON.parse(message) as {
    remove: boolean;
    ports: Record<string, { HostIp: string; HostPort: string }[]>;
    connectAddrs: unknown;
  };
  // Parsing keeps the key order of the Go agent's bytes; stringify writes
  // them back as compactly as Go's encoder does (no character here that Go
  // escapes differently).
  return Object.entries(parsed.ports).flatMap(([port, bindings]) =>
    bindings.map((binding) =>
      `${
        JSON.stringify({
          remove: parsed.remove,
          ports: { [port]: [binding] },
          connectAddrs: parsed.connectAddrs,
        })
      }\n`
    )
  );
}

/** The number of bindings in one PortMapping message. */
function bindingCount(message: string): number {
  const { ports } = JSON.parse(message) as { ports: Record<string, unknown[]> };
  return Object.values(ports).reduce((n, list) => n + list.length, 0);
}

/** A line receiver as a process in the namespace; its messages so far. */
function receiverIn(d: Dockerd, port: number) {
  const child = d.ns.spawn(
    [
      Deno.execPath(),
      "run",
      "--allow-net",
      new URL("tests/fixtures/line_receiver_process.ts", ROOT).pathname,
      String(port),
    ],
    { stdout: "piped", stderr: "null" },
  );
  const output = collectText(child.stdout);
  return {
    listening: () => output.text().startsWith("listening\n"),
    messages: () =>
      output.text().split("\n").filter((line) => line.startsWith('"'))
        .map((line) => JSON.parse(line) as string),
    async stop() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/** The Go agent in `d`'s namespace, its log collected. */
function startGoAgent(d: Dockerd, port: number) {
  const child = spawnGoAgent({
    dockerSocket: d.socket,
    vtunnelPort: port,
    enter: d.ns.enter,
    stderr: "piped",
  });
  return { child, log: collectText(child.stderr) };
}

const canRun = await canRunDockerd() && await haveGoAgent();

Deno.test(
  "privileged mode beside the Go agent v0.3.19: the same PortMapping bytes for the same containers, but for the differences on purpose",
  {
    ignore: ignoreUnless(
      "root, dockerd, ip netns and the Go agent peer (rancher-desktop-guestagent-v0.3.19)",
      canRun,
    ),
  },
  async (t) => {
    const d = await startDockerd();
    const cleanups: (() => Promise<unknown>)[] = [() => d.stop()];
    try {
      // The Go agent reads connectAddrs from eth0 (and exits without it):
      // give the namespace one, as a WSL VM has (one end of a veth pair;
      // the dummy driver is not in every kernel).
      for (
        const command of [
          [
            "ip",
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0-peer",
          ],
          ["ip", "addr", "add", "172.26.1.2/20", "dev", "eth0"],
          ["ip", "addr", "add", "fd00:26::2/64", "dev", "eth0"],
          ["ip", "link", "set", "eth0-peer", "up"],
          ["ip", "link", "set", "eth0", "up"],
        ]
      ) {
        const result = await d.ns.run(command);
        assertEquals(result.code, 0, result.stderr);
      }
      const goReceiver = receiverIn(d, 18590);
      const ourReceiver = receiverIn(d, 18591);
      cleanups.unshift(() => goReceiver.stop(), () => ourReceiver.stop());
      await waitFor(
        () => goReceiver.listening() && ourReceiver.listening(),
        20_000,
        () => " for both receivers",
      );
      const docker = (...args: string[]) => d.docker(args);
      const run = (name: string, ...flags: string[]) =>
        docker("run", "-d", "--name", name, ...flags, TEST_IMAGE, ...HTTPD);

      // Running before both agents: the Go agent's list path, our snapshot.
      await run("before", "-p", "18500:8080");
      const go = startGoAgent(d, 18590);
      const ours = spawnAgentProcess([
        "-privilegedService",
        "-docker",
        `--docker-socket=${d.socket}`,
        "-vtunnelAddr=127.0.0.1:18591",
        "-iptables=false",
        "-kubernetes=false",
      ], d.ns.enter);
      cleanups.unshift(async () => {
        for (const child of [go.child, ours.child]) {
          try {
            child.kill("SIGKILL");
          } catch { /* exited */ }
          await child.status;
        }
      });
      const logs = () =>
        `\nGo agent log:\n${go.log.text().slice(-2000)}\nour log:\n${
          ours.stderr.text().slice(-2000)
        }`;
      /** Waits until both receivers hold exactly the same bindings. */
      const same = async (bindings: number, what: string) => {
        await waitFor(
          () =>
            goReceiver.messages().flatMap(perBinding).length === bindings &&
            ourReceiver.messages().length === bindings,
          45_000,
          () =>
            ` for ${what}: ${bindings} bindings at each receiver; the Go agent's ${
              JSON.stringify(goReceiver.messages())
            }, ours ${JSON.stringify(ourReceiver.messages())}${logs()}`,
        );
        assertEquals(
          ourReceiver.messages().slice().sort(),
          goReceiver.messages().flatMap(perBinding).sort(),
        );
      };

      await t.step(
        "a container running before both: 2 bindings, the same bytes",
        async () => {
          // The Go agent waits 5 s before it first looks at Docker.
          await same(2, "the container running before");
        },
      );

      await t.step(
        "explicit, 127.0.0.1, udp, a range, a random host port, -P and an explicit [::]: the same bytes",
        async () => {
          await run("explicit", "-p", "18501:8080");
          await run("loopback", "-p", "127.0.0.1:18502:8080");
          await run("udp", "-p", "18503:53/udp");
          await run("range", "-p", "18510-18512:9000-9002");
          await run("random", "-p", "8080");
          await run("all", "--expose", "8080", "--expose", "9090", "-P");
          await run("v6", "-p", "[::]:18520:8080");
          await run("none");
          // 2 before + 2 + 1 + 2 + 6 + 2 + 4 + 1 (the random and -P ones on
          // both address families, as dockerd publishes them).
          await same(20, "every container's bindings");
          // Where the Go agent sent one binding, its message is ours byte
          // for byte, without the comparison's rewriting.
          const single = goReceiver.messages().filter((m) =>
            bindingCount(m) === 1
          );
          assertEquals(single.length, 2, JSON.stringify(single));
          for (const message of single) {
            assert(
              ourReceiver.messages().includes(message),
              `ours lacks the Go agent's ${message}`,
            );
          }
        },
      );

      await t.step(
        "docker stop of two containers: the same removes",
        async () => {
          // Stop, not rm -f: the Go agent inspects on die and loses the
          // removal of a container already gone (docs/testing.md).
          await docker("stop", "-t", "0", "explicit", "range");
          await same(28, "the removes of explicit's 2 and range's 6");
          const removes = ourReceiver.messages().filter((m) =>
            m.startsWith('{"remove":true')
          );
          assertEquals(removes.length, 8);
        },
      );
    } finally {
      for (const cleanup of cleanups) await cleanup().catch(() => {});
    }
  },
);
