/**
 * The listeners' settle gate against a real DNAT rule and a real late bind,
 * in a network namespace the test creates: an engine adds a port's DNAT rule
 * first and binds the port just after (docker-proxy, conmon, nerdctl's
 * reserver), so a listener opened in between takes the port from it. Here
 * the bind comes 500 ms after the rule, well inside the default 2,000 ms
 * settle time and far beyond the gate's look interval: a gate that did not
 * wait would open the listener first and the bind would fail. A DNAT-only
 * port (nothing ever binds it) gets its listener, not before the settle time.
 *
 * The agent runs as users run it (main.ts, its own process, the default
 * listener settle time) with the iptables source alone.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  restoreNat,
} from "./netns.ts";
import { commandSucceeds, ignoreUnless } from "./requirements.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { readControl } from "./service_flags.ts";
import { startSocketHolder } from "./netns_sockets.ts";
import { waitUntil } from "./engines/daemon_support.ts";
import type { AgentStatus, PortRow } from "../control/control_view.ts";
import { SERVED_REASON } from "../forwarding/listeners/unserved_gate.ts";

/** The agent's default `--listener-settle`. */
const SETTLE_MS = 2_000;
/** When the "engine" binds its port after adding the rule. */
const BIND_AFTER_MS = 500;

/** One DNAT rule for `port` in a chain of its own, as CNI portmap writes it. */
const rule = (chain: string, port: number) =>
  [
    "*nat",
    `:${chain} - [0:0]`,
    `-A ${chain} -p tcp -m tcp --dport ${port} -j DNAT --to-destination 10.0.0.2:80`,
    "COMMIT",
    "",
  ].join("\n");

Deno.test(
  `listeners mode: a DNAT rule whose port is bound ${BIND_AFTER_MS} ms later never gets a listener; a DNAT-only port gets one after the ${SETTLE_MS} ms settle time`,
  {
    ignore: ignoreUnless(
      "root, ip netns and iptables",
      await canCreateNamespaces() &&
        await commandSucceeds("iptables-save", ["--version"]),
    ),
  },
  async (t) => {
    const ns = await createTestNamespace("ga-settle");
    const dir = await Deno.makeTempDir({ prefix: "gasettle" });
    const control = `${dir}/control.sock`;
    const holder = startSocketHolder(ns);
    const agent = spawnAgentProcess([
      "-iptables",
      "-kubernetes=false",
      `--state-dir=${dir}/state`,
      `--control-socket=${control}`,
    ], ns.enter);
    const row = async (key: string) => {
      try {
        const { ports } = await readControl(control, "/v1/ports") as {
          ports: PortRow[];
        };
        return ports.find((r) => r.key === key)?.deliveries.find((d) =>
          d.forwarder === "listeners"
        );
      } catch {
        return undefined; // not listening yet
      }
    };
    try {
      await waitUntil(
        async () => {
          try {
            const { sources } = await readControl(
              control,
              "/v1/status",
            ) as AgentStatus;
            return sources.some((s) =>
              s.name === "iptables" && s.state === "connected"
            );
          } catch {
            return false;
          }
        },
        20_000,
        "the agent's iptables source",
      ).catch((error) => {
        throw new Error(`${error.message}: ${agent.stderr.text()}`);
      });

      await t.step(
        `the port bound ${BIND_AFTER_MS} ms after its rule: the bind succeeds, the gate says served`,
        async () => {
          const ruleAt = performance.now();
          await restoreNat(ns, rule("CNI-DN-late", 18700));
          // The gate holds it, waiting for the settle time.
          await waitUntil(
            async () => (await row("tcp/0.0.0.0:18700"))?.state === "pending",
            SETTLE_MS,
            "the binding waiting at the gate",
          );
          // The engine's bind, late (the stimulus, not a wait).
          await new Promise((resolve) =>
            setTimeout(resolve, ruleAt + BIND_AFTER_MS - performance.now())
          );
          await holder.command("listen tcp 0.0.0.0 18700");
          await waitUntil(
            async () => (await row("tcp/0.0.0.0:18700"))?.state === "skipped",
            SETTLE_MS * 5,
            "the gate to see the port served",
          );
          assertEquals(
            (await row("tcp/0.0.0.0:18700"))?.reason,
            SERVED_REASON,
          );
        },
      );

      await t.step(
        `a DNAT-only port: its listener, not before ${SETTLE_MS} ms`,
        async () => {
          const ruleAt = performance.now();
          await restoreNat(ns, rule("CNI-DN-only", 18701));
          await waitUntil(
            async () => (await row("tcp/0.0.0.0:18701"))?.state === "forwarded",
            SETTLE_MS * 5,
            "the DNAT-only port's listener",
          );
          const took = performance.now() - ruleAt;
          assert(took >= SETTLE_MS, `a listener after ${took.toFixed(0)} ms`);
          // The listener holds the port: nothing else can bind it.
          let refused = "";
          await holder.command("listen tcp 0.0.0.0 18701").catch((error) =>
            refused = (error as Error).message
          );
          assert(/in use/i.test(refused), `bind: ${refused || "succeeded"}`);
        },
      );
    } finally {
      agent.child.kill("SIGTERM");
      const { code } = await agent.child.status;
      await agent.stderr.done;
      await holder.stop();
      await ns.delete();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      assertEquals(code, 0, agent.stderr.text().slice(-3000));
    }
  },
);
