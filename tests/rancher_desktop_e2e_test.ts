/**
 * Today's Rancher Desktop, end to end: the agent started with the command
 * line its init script builds (host-switch mode, /proc/net on), a real
 * dockerd in the VM's namespace, gvproxy v0.8.7 as the host side in a
 * namespace of its own joined by a veth pair, whose address on the VM side
 * stands for the tap address (`-tap-interface-ip`), so that the host side
 * reaches tap:P across a network as host-switch does, and a WSL-proxy
 * receiver on a unix socket. Checks the mappings at gvproxy and the
 * PortMapping JSON at the proxy for `docker run -p` (0.0.0.0, 127.0.0.1,
 * udp) and `docker rm`, a proxy started after the agent, VM processes on
 * 127.0.0.1, [::1] and [::] (a mapping each, and bytes both ways from the
 * host side through the tap address), and SIGTERM.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canRunDockerd,
  HTTPD,
  runHttpd,
  startDockerd,
} from "./engines/dockerd.ts";
import { type Gvproxy, haveGvproxy, startGvproxy } from "./engines/gvproxy.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { type LineReceiver, startLineReceiver } from "./line_receiver.ts";
import { collectText } from "./agent_process.ts";
import { canRunPodman, PODMAN_IMAGE, startPodman } from "./engines/podman.ts";
import type { TestNamespace } from "./netns.ts";
import { readControl } from "./service_flags.ts";
import { ignoreUnless } from "./requirements.ts";
import { waitFor } from "./wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const GVPROXY = "v0.8.7";
/** The agent's end of the veth pair: the tap address host-switch connects to. */
const TAP = "172.26.1.2";

/** The command line Rancher Desktop's init script builds (Docker, no Kubernetes… below). */
const RANCHER_DESKTOP_FLAGS = [
  "-adminInstall=false",
  "-kubernetes=true",
  "-docker=true",
  "-containerd=false",
  "-k8sServiceListenerAddr=127.0.0.1",
  "-debug=false",
];

/**
 * Replays PortMapping messages as the WSL proxy keeps its listeners: one per
 * protocol and host port (an add opens it on HostIp, a remove closes it,
 * whatever container port the message names), as "proto HostIp:HostPort".
 */
function liveSet(messages: readonly string[]): string[] {
  const live = new Map<string, string>();
  for (const message of messages) {
    const parsed = JSON.parse(message) as {
      remove: boolean;
      ports: Record<string, { HostIp: string; HostPort: string }[]>;
      connectAddrs: unknown;
    };
    assertEquals(parsed.connectAddrs, null, message);
    for (const [port, hosts] of Object.entries(parsed.ports)) {
      const protocol = port.split("/")[1];
      for (const host of hosts) {
        const key = `${protocol} ${host.HostPort}`;
        if (parsed.remove) live.delete(key);
        else live.set(key, `${protocol} ${host.HostIp}:${host.HostPort}`);
      }
    }
  }
  return [...live.values()].sort();
}

/** The engine the VM runs, through its Docker API. */
interface Engine {
  /** "dockerd" or "podman". */
  readonly name: string;
  /** Its Docker API socket. */
  readonly socket: string;
  /** The VM's namespace, where it publishes ports. */
  readonly ns: TestNamespace;
  /** Runs a web server container publishing `publish` (`-p` values). */
  run(name: string, publish: readonly string[]): Promise<unknown>;
  /** Removes a container at once. */
  remove(name: string): Promise<unknown>;
}

const same = (a: readonly string[], b: readonly string[]) =>
  JSON.stringify(a) === JSON.stringify(b);

/** Rancher Desktop's launch beside `engine`; the VM-listener steps with `vmListeners`. */
async function scenario(
  t: Deno.TestContext,
  engine: Engine,
  vmListeners: boolean,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gard" });
  const proxySocket = `${dir}/wsl-proxy.sock`;
  const control = `${dir}/control.sock`;
  const cleanups: (() => Promise<unknown>)[] = [
    () => Deno.remove(dir, { recursive: true }),
  ];
  try {
    const gv: Gvproxy = await startGvproxy(GVPROXY, engine.ns);
    cleanups.unshift(() => gv.stop());
    // The proxy starts after the agent (first step).
    let proxy: LineReceiver | undefined;
    const earlier: string[] = [];
    const proxyMessages = () => [...earlier, ...proxy?.messages ?? []];
    cleanups.unshift(async () => await proxy?.close());

    const agent = spawnAgentProcess([
      ...RANCHER_DESKTOP_FLAGS,
      `--docker-socket=${engine.socket}`,
      `--host-switch-url=${gv.url}`,
      `-tap-interface-ip=${TAP}`,
      `--wsl-proxy-socket=${proxySocket}`,
      `--state-dir=${dir}/state`,
      `--control-socket=${control}`,
      `--kubeconfig=${dir}/no-kubeconfig.yaml`,
    ], engine.ns.enter);
    let agentRunning = true;
    cleanups.unshift(async () => {
      if (agentRunning) agent.child.kill("SIGKILL");
      await agent.child.status;
    });
    const hostSide = async () =>
      (await gv.all()).filter((m) => m.remote.startsWith(`${TAP}:`))
        .map((m) => `${m.protocol} ${m.local}`).sort();
    const settle = (check: () => boolean | Promise<boolean>, what: string) =>
      waitFor(
        check,
        60_000,
        () =>
          ` for ${what}; proxy live set ${
            JSON.stringify(liveSet(proxyMessages()))
          }\nagent log:\n${agent.stderr.text().slice(-4000)}`,
      );
    const hostSideIs = async (want: string[], what: string) => {
      let have: string[] = [];
      await settle(async () => same(have = await hostSide(), want), what)
        .catch((error) => {
          throw new Error(
            `${error.message}\nhost side: ${JSON.stringify(have)}`,
          );
        });
    };
    const proxyIs = (want: string[], what: string) =>
      settle(() => same(liveSet(proxyMessages()), want), what);
    /** Each binding's loopback-relay state, from `ports`. */
    const relayStates = async () => {
      const rows = ((await readControl(control, "/v1/ports")) as {
        ports: {
          key: string;
          deliveries: { forwarder: string; state: string }[];
        }[];
      }).ports;
      return {
        keys: rows.map((row) => row.key),
        relay: new Map(
          rows.flatMap((row) =>
            row.deliveries.filter((d) => d.forwarder === "loopback-relay")
              .map((d) => [row.key, d.state] as const)
          ),
        ),
      };
    };
    /** The WSL proxy forwarder's row in `status`. */
    // undefined until the agent's control socket answers.
    const wslProxy = async () =>
      ((await readControl(control, "/v1/status").catch(() => undefined)) as
        | { forwarders: { name: string; waiting?: string }[] }
        | undefined)?.forwarders.find((f) => f.name === "wsl-proxy");
    /** Waits for `status` to say the WSL proxy forwarder waits for its socket. */
    const proxyWaiting = () =>
      settle(
        async () =>
          (await wslProxy())?.waiting ===
            `Cannot send to the WSL proxy at ${proxySocket}: its socket does not exist (yet)`,
        "wsl-proxy waiting",
      );
    /** The VM listeners the relay serves (the [::] one is served already). */
    const RELAYED = [
      "tcp/127.0.0.1:18510",
      "tcp/[::1]:18511",
      "tcp/[::]:18512",
      "udp/127.0.0.1:18513",
      "udp/[::1]:18514",
    ];

    await t.step(
      "a proxy started after the agent: status says waiting, then the proxy gets the live set (the Kubernetes API port, never sent to host-switch)",
      async () => {
        await proxyWaiting();
        proxy = startLineReceiver({ path: proxySocket });
        await proxyIs(["tcp 127.0.0.1:6443"], "the API port at the proxy");
        await settle(
          async () => (await wslProxy())?.waiting === undefined,
          "wsl-proxy healthy",
        );
        await hostSideIs([], "nothing exposed");
      },
    );

    await t.step(
      "run -p on 0.0.0.0, 127.0.0.1 and udp: a mapping each at gvproxy, an add each at the proxy",
      async () => {
        await engine.run("web", [
          "18500:8080",
          "127.0.0.1:18501:8080",
          "18502:53/udp",
        ]);
        await hostSideIs(
          [
            "tcp 127.0.0.1:18500",
            "tcp 127.0.0.1:18501",
            "udp 127.0.0.1:18502",
          ],
          "web's mappings",
        );
        await proxyIs(
          [
            "udp 0.0.0.0:18502",
            "tcp 127.0.0.1:6443",
            "tcp 0.0.0.0:18500",
            "tcp 127.0.0.1:18501",
          ].sort(),
          "web's adds at the proxy",
        );
      },
    );

    await t.step("rm removes both", async () => {
      await engine.remove("web");
      await hostSideIs([], "web's mappings removed");
      await proxyIs(
        ["tcp 127.0.0.1:6443"],
        "web's removes at the proxy",
      );
    });

    await t.step(
      "a proxy away meanwhile gets the live set when it comes back, one log line for the outage",
      async () => {
        earlier.push(...proxy!.messages);
        await proxy!.close();
        const logBefore = agent.stderr.text().length;
        await engine.run("late", ["18503:8080"]);
        await hostSideIs(["tcp 127.0.0.1:18503"], "late's mapping");
        await proxyWaiting();
        proxy = startLineReceiver({ path: proxySocket });
        await proxyIs(
          ["tcp 0.0.0.0:18503", "tcp 127.0.0.1:6443"],
          "the live set at the returned proxy",
        );
        const failures = agent.stderr.text().slice(logBefore).match(
          /wsl-proxy: cannot add/g,
        ) ?? [];
        // At most one line for the outage: the same cause logged at start
        // (under a minute ago) is not logged again.
        assert(failures.length <= 1, agent.stderr.text().slice(logBefore));
        await engine.remove("late");
        await hostSideIs([], "late's mapping removed");
      },
    );

    if (vmListeners) {
      const servers = engine.ns.spawn([
        Deno.execPath(),
        "run",
        "--allow-net",
        `${ROOT}tests/fixtures/loopback_servers.ts`,
        "tcp:127.0.0.1:18510",
        "tcp:::1:18511",
        "tcp:[::]:18512",
        "udp:127.0.0.1:18513",
        "udp:::1:18514",
      ], { stdout: "piped", stderr: "null" });
      cleanups.unshift(async () => {
        servers.kill("SIGKILL");
        await servers.status;
      });
      const serversOut = collectText(servers.stdout);
      await waitFor(
        () => serversOut.text() === "ready\n",
        20_000,
        () => " for the VM's servers",
      );

      await t.step(
        "VM processes on 127.0.0.1, [::1] and [::]: a mapping each, bytes both ways from the host side through the tap address",
        async () => {
          await hostSideIs([
            "tcp 127.0.0.1:18510",
            "tcp 127.0.0.1:18511",
            "tcp 127.0.0.1:18512",
            "udp 127.0.0.1:18513",
            "udp 127.0.0.1:18514",
          ], "the VM listeners' mappings");
          // The relays open once the settle time has passed.
          await settle(async () => {
            const { relay } = await relayStates();
            return RELAYED.every((key) => relay.get(key) === "forwarded");
          }, "every relay forwarded");
          const ask = async (protocol: string, port: number, text: string) => {
            const { code, stdout, stderr } = await gv.hostNs.run([
              Deno.execPath(),
              "run",
              "--allow-net",
              `${ROOT}tests/fixtures/tap_client.ts`,
              protocol,
              TAP,
              String(port),
              text,
            ]);
            assertEquals(code, 0, stderr);
            return stdout;
          };
          assertEquals(await ask("tcp", 18510, "four"), "FOUR bye");
          assertEquals(await ask("tcp", 18511, "six"), "SIX bye");
          assertEquals(await ask("tcp", 18512, "dual"), "DUAL bye");
          assertEquals(await ask("udp", 18513, "dgram4"), "echo dgram4");
          assertEquals(await ask("udp", 18514, "dgram6"), "echo dgram6");
          // The IPv4 loopback ones reach the proxy; IPv6 ones do not (one listener per port there).
          await proxyIs(
            [
              "tcp 127.0.0.1:18510",
              "udp 127.0.0.1:18513",
              "tcp 127.0.0.1:6443",
            ].sort(),
            "the IPv4 loopback listeners at the proxy",
          );
        },
      );

      await t.step(
        "ports shows the relay for the loopback listeners; the relays' own sockets never become ports",
        async () => {
          const { keys, relay } = await relayStates();
          for (const key of RELAYED) {
            assertEquals(relay.get(key), "forwarded", key);
          }
          assert(
            !keys.some((key) => key.includes(`${TAP}:`)),
            JSON.stringify(keys),
          );
          assertEquals(
            agent.stderr.text().match(/host-switch: cannot (add|remove)/g) ??
              [],
            [],
          );
        },
      );
    }

    await t.step(
      "SIGTERM: the host side is empty, the proxy got every remove, exit 0",
      async () => {
        agent.child.kill("SIGTERM");
        const { code } = await agent.child.status;
        agentRunning = false;
        assertEquals(code, 0, agent.stderr.text().slice(-3000));
        assertEquals(await hostSide(), []);
        await proxyIs([], "every remove at the proxy");
      },
    );
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
  }
}

Deno.test(
  "Rancher Desktop's launch: host-switch (gvproxy) and the WSL proxy get each port, loopback VM listeners are relayed from the tap address, SIGTERM empties both",
  {
    ignore: ignoreUnless(
      `root, dockerd, Podman, ip netns and gvproxy-${GVPROXY}`,
      await canRunDockerd() && await canRunPodman() &&
        await haveGvproxy(GVPROXY),
    ),
  },
  async (t) => {
    await t.step("dockerd", async (t) => {
      const d = await startDockerd();
      try {
        await scenario(t, {
          name: "dockerd",
          socket: d.socket,
          ns: d.ns,
          run: (name, publish) => runHttpd(d, name, ...publish),
          remove: (name) => d.docker(["rm", "-f", name]),
        }, true);
      } finally {
        await d.stop();
      }
    });
    await t.step("Podman's Docker API", async (t) => {
      const pm = await startPodman();
      try {
        await scenario(t, {
          name: "podman",
          socket: pm.socket,
          ns: pm.ns,
          run: (name, publish) =>
            pm.podman([
              "run",
              "-d",
              "--name",
              name,
              ...publish.flatMap((p) => ["-p", p]),
              PODMAN_IMAGE,
              ...HTTPD,
            ]),
          remove: (name) => pm.podman(["rm", "-f", "-t", "0", name]),
        }, false);
      } finally {
        await pm.stop();
      }
    });
  },
);
