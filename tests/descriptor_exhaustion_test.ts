/**
 * Out of file descriptors: the agent (main.ts, its own process, listeners
 * mode, in a network namespace) under `prlimit --nofile=1024:4096` with
 * 5,001 DNAT ports that each want a listener (Deno raises its soft limit
 * to the hard one at start: the agent runs with 4,096). It must keep running, keep
 * what it forwarded, answer `status` (or refuse cleanly), say what the
 * limit is, and stop cleanly.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  restoreNat,
} from "./netns.ts";
import { ignoreUnless } from "./requirements.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { readControl } from "./service_flags.ts";
import { waitUntil } from "./engines/daemon_support.ts";
import type { AgentStatus, PortRow } from "../control/control_view.ts";
import { runControlCommand } from "../cli/control_commands.ts";

const PORTS = 5001;
const FIRST = 30_000;

Deno.test(
  "descriptor exhaustion: 5,001 listeners under a 1,024:4,096 open-files limit",
  {
    ignore: ignoreUnless("root and ip netns", await canCreateNamespaces()),
  },
  async () => {
    const ns = await createTestNamespace("ga-fd");
    const dir = await Deno.makeTempDir({ prefix: "gafd" });
    const control = `${dir}/control.sock`;
    const agent = spawnAgentProcess([
      "-iptables",
      "-kubernetes=false",
      "--listener-settle=200",
      `--state-dir=${dir}/state`,
      `--control-socket=${control}`,
    ], ["prlimit", "--nofile=1024:4096", "--", ...ns.enter]);
    const status = () =>
      readControl(control, "/v1/status") as Promise<AgentStatus>;
    const listeners = async () =>
      (await status()).forwarders.find((f) => f.name === "listeners")!;
    try {
      await waitUntil(
        async () => {
          try {
            return (await status()).sources.some((s) =>
              s.state === "connected"
            );
          } catch {
            return false;
          }
        },
        20_000,
        "the agent's iptables source",
      );
      await waitUntil(
        () => agent.stderr.text().includes("open-files limit 4096 (hard 4096)"),
        5_000,
        "the limit in the log",
      ).catch((error) => {
        throw new Error(`${error.message}: ${agent.stderr.text()}`);
      });
      const rules = Array.from(
        { length: PORTS },
        (_, i) =>
          `-A CNI-DN-fdtest -p tcp -m tcp --dport ${
            FIRST + i
          } -j DNAT --to-destination 10.0.0.2:80`,
      );
      await restoreNat(
        ns,
        ["*nat", ":CNI-DN-fdtest - [0:0]", ...rules, "COMMIT"].join("\n"),
      );

      // About 1,000 listeners open, the rest retrying; the agent lives.
      let seen: AgentStatus["forwarders"][number] | undefined;
      await waitUntil(
        async () => {
          seen = await listeners().catch(() => seen);
          return (seen?.forwarded ?? 0) > 3000 && (seen?.retrying ?? 0) > 500;
        },
        60_000,
        "listeners up to the limit, the rest retrying",
      ).catch((error) => {
        throw new Error(
          `${error.message}: ${JSON.stringify(seen)}; ${
            agent.stderr.text().slice(-2000)
          }`,
        );
      });
      // `status` from the real CLI, over and over, while no descriptor is free.
      for (let i = 0; i < 20; i++) {
        const output = await runControlCommand([
          "status",
          "--control-socket",
          control,
        ]);
        assert(
          output.code === 0 ||
            output.stderr.includes("no agent is running") === false,
          `status: ${output.code} ${output.stderr}`,
        );
        assertEquals(output.code, 0, output.stderr);
      }
      const forwardedBefore = (await listeners()).forwarded;
      const log = agent.stderr.text();
      assertStringIncludes(
        log,
        "more than the open-files limit 4096 leaves room for",
      );
      assertStringIncludes(
        log,
        "as many as the open-files limit leaves room for",
      );
      // One line per distinct problem, not one per port and attempt.
      const lines = log.split("\n").filter((line) =>
        line.includes("open-files limit")
      );
      assert(lines.length < 50, `${lines.length} lines about descriptors`);
      // Nothing forwarded is lost while the rest keep failing: wait until
      // one retrying port has failed twice more than when first seen.
      const retryingPort = async () => {
        const { ports } = await readControl(control, "/v1/ports") as {
          ports: PortRow[];
        };
        for (const row of ports) {
          const listener = row.deliveries.find((d) =>
            d.forwarder === "listeners" && d.state === "retrying"
          );
          if (listener) return { key: row.key, attempts: listener.attempts };
        }
        return undefined;
      };
      let first: { key: string; attempts: number } | undefined;
      await waitUntil(
        async () =>
          (first = await retryingPort().catch(() => undefined)) !==
            undefined,
        20_000,
        "a retrying port in ports",
      );
      await waitUntil(
        async () => {
          const { ports } = await (readControl(control, "/v1/ports") as Promise<
            { ports: PortRow[] }
          >).catch(() => ({ ports: [] as PortRow[] }));
          const now = ports.find((row) => row.key === first!.key)
            ?.deliveries.find((d) => d.forwarder === "listeners");
          return now !== undefined && now.attempts >= first!.attempts + 2;
        },
        60_000,
        `two more failed attempts on ${first!.key}`,
      );
      assert((await listeners()).forwarded >= forwardedBefore);

      await restoreNat(ns, "*nat\n-F CNI-DN-fdtest\nCOMMIT");
      await waitUntil(
        async () =>
          (await listeners()).forwarded === 0 &&
          (await listeners()).backlog === 0,
        60_000,
        "every listener closed",
      );
    } finally {
      agent.child.kill("SIGTERM");
      const { code } = await agent.child.status;
      await agent.stderr.done;
      await ns.delete();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      assertEquals(code, 0, agent.stderr.text().slice(-3000));
    }
  },
);
