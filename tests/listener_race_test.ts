/**
 * The agent never takes a port something in the VM is about to serve: a
 * real dockerd (userland proxy on and off) doing its normal work next to
 * the agent in every mode, started with the flags the service files pass.
 * dockerd adds a port's DNAT rule, then binds the port (docker-proxy): a
 * listener opened in between made `docker run` fail. Without its proxy,
 * dockerd 20.10 binds each published port itself (to reserve it): served
 * too. A DNAT-only port (CNI portmap) still gets its listener.
 *
 * Slow by nature (dockerd needs ~30 s to publish 1,000 ports and ~60 s to
 * take them down; 100 restarts ~90 s), so every mode shares one dockerd.
 * `deno task test` runs a 100-port range and 10 restarts per mode; `deno
 * task test:stress` the 1,000-port range and 100 restarts
 * (tests/test_size.ts).
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
import { addCniNetwork, haveCniPlugins } from "./engines/cni.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { readControl, serviceFlags } from "./service_flags.ts";
import { ignoreUnless } from "./requirements.ts";
import { startLineReceiver } from "./line_receiver.ts";
import { waitUntil } from "./engines/daemon_support.ts";
import type { AgentStatus, PortRow } from "../control/control_view.ts";
import { count, sized } from "./test_size.ts";

const RANGE_PORTS = sized(100, 1_000);
const RESTARTS = sized(10, 100);
const RANGE_FIRST = 20000;

/** The modes, as the service files' variables select them. */
const MODES: Record<string, (dir: string) => Record<string, string>> = {
  // The PortMapping messages go to a receiver on a unix socket (the
  // wsl-proxy form of -vtunnelAddr), which reads each to its end.
  privileged: (dir) => ({
    GUESTAGENT_PRIVILEGED_SERVICE: "true",
    GUESTAGENT_VTUNNEL_ADDR: `unix://${dir}/vtunnel.sock`,
  }),
  "host-switch": () => ({}),
  listeners: () => ({ GUESTAGENT_CONTAINER_ENGINE: "" }),
};

interface Round {
  readonly d: Dockerd;
  readonly dir: string;
  readonly mode: string;
  readonly proxy: boolean;
}

/** Runs one mode next to `d`; returns the agent's control socket reader. */
async function withAgent(
  round: Round,
  body: (
    control: { ports(): Promise<PortRow[]>; status(): Promise<AgentStatus> },
    log: () => string,
  ) => Promise<void>,
): Promise<void> {
  const socket = `${round.dir}/${round.mode}-${round.proxy}.sock`;
  const agent = spawnAgentProcess([
    ...await serviceFlags(MODES[round.mode]!(round.dir)),
    `--docker-socket=${round.d.socket}`,
    "--host-switch-url=http://127.0.0.1:9",
    `--state-dir=${round.dir}/state-${round.mode}`,
    `--control-socket=${socket}`,
  ], round.d.ns.enter);
  const control = {
    ports: async () =>
      ((await readControl(socket, "/v1/ports")) as { ports: PortRow[] }).ports,
    status: () => readControl(socket, "/v1/status") as Promise<AgentStatus>,
  };
  try {
    await waitUntil(
      async () => {
        try {
          const { sources } = await control.status();
          const iptables = sources.find((s) => s.name === "iptables");
          return iptables?.state === "connected";
        } catch {
          return false;
        }
      },
      20_000,
      `the agent in ${round.mode} mode`,
    ).catch((error) => {
      throw new Error(`${error.message}: ${agent.stderr.text().slice(-2000)}`);
    });
    assertEquals((await control.status()).mode, round.mode);
    await body(control, () => agent.stderr.text());
  } finally {
    agent.child.kill("SIGTERM");
    const { code } = await agent.child.status;
    await agent.stderr.done;
    assertEquals(code, 0, agent.stderr.text().slice(-2000));
  }
}

/** `docker …` that returns its error instead of throwing. */
async function attempt(
  d: Dockerd,
  args: string[],
): Promise<string | undefined> {
  try {
    await d.docker(args);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function dockerAtWork(round: Round): Promise<void> {
  const { d } = round;
  await withAgent(round, async (control, log) => {
    const failures: string[] = [];
    const failed = (error: string | undefined) => error && failures.push(error);
    failed(
      await attempt(d, [
        "run",
        "-d",
        "--name",
        "range",
        "-p",
        `${RANGE_FIRST}-${RANGE_FIRST + RANGE_PORTS - 1}:${RANGE_FIRST}-${
          RANGE_FIRST + RANGE_PORTS - 1
        }`,
        TEST_IMAGE,
        ...HTTPD,
      ]),
    );
    failed(
      await attempt(d, [
        "run",
        "-d",
        "--name",
        "ten",
        "-p",
        "21000-21009:21000-21009",
        TEST_IMAGE,
        ...HTTPD,
      ]),
    );
    for (let i = 0; i < RESTARTS; i++) {
      failed(await attempt(d, ["restart", "-t", "0", "ten"]));
    }
    assertEquals(
      failures,
      [],
      `docker failed next to the agent:\n${log().slice(-3000)}`,
    );

    // Steady state: every published port tracked, and the listeners hold
    // none of them (served by the engine: skipped in listeners mode, not
    // routed to the listeners in the others), and never retry against it.
    const published = [
      ...Array.from({ length: RANGE_PORTS }, (_, i) => RANGE_FIRST + i),
      ...Array.from({ length: 10 }, (_, i) => 21000 + i),
    ];
    const settled = (row: PortRow | undefined) => {
      if (row === undefined) return false;
      const listener = row.deliveries.find((x) => x.forwarder === "listeners");
      return round.mode === "listeners"
        ? listener?.state === "skipped"
        : listener === undefined;
    };
    let rows: PortRow[] = [];
    await waitUntil(
      async () => {
        rows = await control.ports();
        const byKey = new Map(rows.map((row) => [row.key, row]));
        return published.every((port) =>
          settled(byKey.get(`tcp/0.0.0.0:${port}`))
        );
      },
      sized(30_000, 120_000),
      `all ${published.length} published ports tracked, none taken by a listener`,
    );
    const row = rows.find((r) => r.key === "tcp/0.0.0.0:21005");
    assert(
      row,
      `tcp/0.0.0.0:21005 is tracked: ${JSON.stringify(rows.slice(0, 3))}`,
    );
    const listener = row.deliveries.find((x) => x.forwarder === "listeners");
    if (round.mode === "listeners") {
      // Served: by docker-proxy, or without it by dockerd itself, which
      // binds every published port to reserve it (seen with ss).
      assertEquals(listener?.state, "skipped", JSON.stringify(row));
    } else {
      assertEquals(listener, undefined, JSON.stringify(row));
    }
    const listeners = (await control.status()).forwarders.find((f) =>
      f.name === "listeners"
    );
    assertEquals(listeners?.retrying, 0, JSON.stringify(listeners));

    if (round.mode === "host-switch") {
      // A DNAT-only port of CNI portmap (no engine source, no proxy).
      const cni = await addCniNetwork(d.ns, "race1", [
        { hostPort: 18990, containerPort: 8080, protocol: "tcp" },
      ]);
      try {
        await waitUntil(
          async () => {
            const now = (await control.ports()).find((r) =>
              r.key === "tcp/0.0.0.0:18990"
            );
            return now?.deliveries.some((x) =>
              x.forwarder === "listeners" && x.state === "forwarded"
            ) ?? false;
          },
          10_000,
          "the CNI portmap port's listener",
        );
      } finally {
        await cni.remove();
      }
    }
    failed(await attempt(d, ["rm", "-f", "range", "ten"]));
    assertEquals(failures, []);
  });
}

Deno.test("the listeners never take a port dockerd is about to serve", {
  ignore: ignoreUnless(
    "root, dockerd, ip netns and Debian's CNI plugins",
    await canRunDockerd() && await haveCniPlugins(),
  ),
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "garace" });
  const receiver = startLineReceiver({ path: `${dir}/vtunnel.sock` });
  try {
    for (const proxy of [true, false]) {
      const d = await startDockerd({ userlandProxy: proxy });
      try {
        // Without the proxy dockerd binds the ports itself: the mode that
        // gives Docker's ports to the listeners shows they stay served.
        const modes = proxy ? Object.keys(MODES) : ["listeners"];
        for (const mode of modes) {
          await t.step(
            `${proxy ? "docker-proxy" : "no userland proxy"}, ${mode} mode: a ${
              count(RANGE_PORTS)
            }-port range and ${RESTARTS} restarts`,
            () => dockerAtWork({ d, dir, mode, proxy }),
          );
        }
      } finally {
        await d.stop();
      }
    }
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
