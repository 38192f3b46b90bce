/**
 * The /proc/net source end to end against real sockets in a network
 * namespace the test creates: the agent runs inside it
 * (tests/fixtures/agent_in_netns.ts), a helper process holds sockets there
 * (tests/fixtures/socket_holder.ts). Twice: with tracefs mounted (the scan
 * is woken by the kernel's perf tracepoints) and with it hidden (the
 * fallback: polling), each in a private mount namespace.
 *
 * @module
 */
import { assertEquals, assertMatch } from "./assert.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  withTracefs,
} from "./netns.ts";
import { startSocketHolder } from "./netns_sockets.ts";
import { type NetnsAgent, startNetnsAgent } from "./netns_agent.ts";
import { onlySources } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";

const canRun = await canCreateNamespaces();

/** The procnet source's status detail, from the agent's status line. */
function procnetDetail(agent: NetnsAgent): string {
  const line = agent.lines.find((l) => l.status);
  const procnet = (line?.status as { name: string; reason?: string }[])
    .find((s) => s.name === "procnet");
  return procnet?.reason ?? "";
}

for (const tracefs of ["mounted", "hidden"] as const) {
  const events = tracefs === "mounted";
  Deno.test(
    `procnet source against real sockets in a network namespace, tracefs ${tracefs}`,
    {
      ignore: ignoreUnless("root and ip netns", canRun),
    },
    async (t) => {
      const ns = await createTestNamespace("ga-procnet");
      const holder = startSocketHolder(ns);
      let agent: NetnsAgent | undefined;
      try {
        agent = await startNetnsAgent(withTracefs(ns, tracefs), {
          ...onlySources("procnet"),
          procnetIntervalMs: 300,
          // UDP closes have no kernel event: the safety net finds them.
          procnetRescanMs: 1000,
          ignorePorts: [18409],
        });
        const running = agent;
        await t.step("the status says what wakes the scan", () => {
          assertMatch(
            procnetDetail(running),
            events
              ? /^woken by kernel tracepoints \(TCP listen and close, UDP binds; \/sys\/kernel\/tracing\); safety-net rescan every 1 s$/
              : /^polling every 300 ms: no kernel tracepoints \(tracefs is not mounted at \/sys\/kernel\/tracing or \/sys\/kernel\/debug\/tracing\)$/,
          );
          assertMatch(
            running.log(),
            events
              ? /procnet: woken by kernel tracepoints/
              : /procnet: polling/,
          );
        });

        await t.step(
          "TCP listeners on 0.0.0.0, 127.0.0.1 and ::, and a UDP socket",
          async () => {
            await holder.command("listen tcp 0.0.0.0 18401");
            await holder.command("listen tcp 127.0.0.1 18402");
            await holder.command("listen tcp :: 18403");
            await holder.command("listen udp 0.0.0.0 18404");
            await holder.command("listen tcp 0.0.0.0 18409"); // ignored by flag
            await running.until(() => running.keys.size === 4, "4 sockets");
            assertEquals([...running.keys].sort(), [
              "tcp/0.0.0.0:18401",
              "tcp/127.0.0.1:18402",
              "tcp/[::]:18403",
              "udp/0.0.0.0:18404",
            ]);
          },
        );

        await t.step(
          "a socket that lives microseconds is never published",
          async () => {
            for (let i = 0; i < 20; i++) {
              await holder.command("flash tcp 0.0.0.0 18405");
            }
            // A later socket is published after its own confirmation: by
            // then any scan that could have confirmed 18405 has run.
            await holder.command("listen tcp 0.0.0.0 18406");
            await running.until(
              () => running.keys.has("tcp/0.0.0.0:18406"),
              "18406",
            );
            assertEquals(
              running.lines.filter((line) => line.add === "tcp/0.0.0.0:18405"),
              [],
            );
          },
        );

        await t.step("closed sockets are removed", async () => {
          await holder.command("close tcp 127.0.0.1 18402");
          await holder.command("close udp 0.0.0.0 18404");
          await running.until(
            () =>
              !running.keys.has("tcp/127.0.0.1:18402") &&
              !running.keys.has("udp/0.0.0.0:18404"),
            "the closed sockets gone",
          );
        });
      } finally {
        const code = await agent?.stop();
        await holder.stop();
        await ns.delete();
        if (code !== undefined) {
          assertEquals(code, 0, "the agent stopped cleanly");
        }
      }
    },
  );
}
