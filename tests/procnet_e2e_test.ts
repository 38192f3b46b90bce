/**
 * The /proc/net source end to end against real sockets in a network
 * namespace the test creates: the agent runs inside it
 * (tests/fixtures/agent_in_netns.ts), a helper process holds sockets there
 * (tests/fixtures/socket_holder.ts). Each run in a private mount
 * namespace: tracefs mounted (the scan is woken by the kernel's perf
 * tracepoints); tracefs not mounted, as on a fresh VM (the agent mounts it,
 * as root, and is woken the same way); kernel events turned off there
 * (`--no-procnet-events`: nothing mounted, polling); and tracefs neither
 * there nor mountable (the fallback: polling, with the reason).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  type TracefsSetup,
  withTracefs,
} from "./netns.ts";
import { startSocketHolder } from "./netns_sockets.ts";
import { type NetnsAgent, startNetnsAgent } from "./netns_agent.ts";
import { onlySources } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";

/**
 * The safety-net rescan where kernel events wake the scan: far beyond every
 * wait of this file, so that a change seen in time was seen through a
 * tracepoint, never through the net.
 */
const SAFETY_NET_MS = 60_000;
/** How soon a change must be seen where tracepoints wake the scan. */
const WOKEN_WITHIN_MS = 5_000;

const canRun = await canCreateNamespaces();

/** The procnet source's status detail, from the agent's status line. */
function procnetDetail(agent: NetnsAgent): string {
  const line = agent.lines.find((l) => l.status);
  const procnet = (line?.status as { name: string; reason?: string }[])
    .find((s) => s.name === "procnet");
  return procnet?.reason ?? "";
}

interface Setup {
  readonly name: string;
  readonly tracefs: TracefsSetup;
  /** --procnet-events. */
  readonly events: boolean;
  /** The procnet status detail. */
  readonly detail: RegExp;
  /** What the agent's log says about tracefs. */
  readonly log: RegExp;
  /** Whether the log must not say it mounted tracefs. */
  readonly mounts: boolean;
}

const WOKEN =
  /^woken by kernel tracepoints \(TCP listen and close, UDP binds; \/sys\/kernel\/tracing\); safety-net rescan every 60 s$/;
const SETUPS: readonly Setup[] = [
  {
    name: "tracefs mounted",
    tracefs: "mounted",
    events: true,
    detail: WOKEN,
    log: /procnet: woken by kernel tracepoints/,
    mounts: false,
  },
  {
    name: "tracefs not mounted: the agent mounts it",
    tracefs: "unmounted",
    events: true,
    detail: WOKEN,
    log:
      /mounted tracefs at \/sys\/kernel\/tracing so that kernel tracepoints wake/,
    mounts: true,
  },
  {
    name: "tracefs not mounted, --no-procnet-events: nothing mounted, polling",
    tracefs: "unmounted",
    events: false,
    detail: /^polling every 300 ms: kernel events are off$/,
    log: /procnet: polling/,
    mounts: false,
  },
  {
    name: "tracefs neither there nor mountable: polling, with the reason",
    tracefs: "hidden",
    events: true,
    detail:
      /^polling every 300 ms: no kernel tracepoints \(tracefs is not mounted at \/sys\/kernel\/tracing or \/sys\/kernel\/debug\/tracing\)$/,
    log:
      /Cannot mount tracefs for the \/proc\/net source's kernel events: \/sys\/kernel\/tracing does not exist/,
    mounts: false,
  },
];

for (const setup of SETUPS) {
  Deno.test(
    `procnet source against real sockets in a network namespace, ${setup.name}`,
    {
      ignore: ignoreUnless("root and ip netns", canRun),
    },
    async (t) => {
      const ns = await createTestNamespace("ga-procnet");
      const holder = startSocketHolder(ns);
      let agent: NetnsAgent | undefined;
      try {
        agent = await startNetnsAgent(withTracefs(ns, setup.tracefs), {
          ...onlySources("procnet"),
          procnetEvents: setup.events,
          procnetIntervalMs: 300,
          procnetRescanMs: SAFETY_NET_MS,
          ignorePorts: [18409],
        });
        const running = agent;
        const woken = setup.detail === WOKEN;
        /**
         * Waits for `check` after a change made at `changedAt`; where
         * tracepoints wake the scan, asserts it came well before the net.
         */
        const seen = async (
          check: () => boolean,
          what: string,
          changedAt: number,
        ) => {
          await running.until(check, what);
          const ms = performance.now() - changedAt;
          if (woken) {
            assert(
              ms < WOKEN_WITHIN_MS,
              `${what} took ${
                ms.toFixed(0)
              } ms: not woken by a tracepoint (safety net ${SAFETY_NET_MS} ms)`,
            );
          }
        };
        await t.step("the status says what wakes the scan", () => {
          assertMatch(procnetDetail(running), setup.detail);
          assertMatch(running.log(), setup.log);
          assertEquals(
            /mounted tracefs at/.test(running.log()),
            setup.mounts,
            running.log(),
          );
        });

        await t.step(
          `TCP listeners on 0.0.0.0, 127.0.0.1 and ::, and a UDP socket, are published${
            woken ? ` within ${WOKEN_WITHIN_MS} ms of the change` : ""
          }; the ignored port never`,
          async () => {
            const changedAt = performance.now();
            await holder.command("listen tcp 0.0.0.0 18401");
            await holder.command("listen tcp 127.0.0.1 18402");
            await holder.command("listen tcp :: 18403");
            await holder.command("listen udp 0.0.0.0 18404");
            await holder.command("listen tcp 0.0.0.0 18409"); // ignored by flag
            // Opened after the ignored one: the scan that confirms it has
            // seen 18409 too.
            await holder.command("listen tcp 0.0.0.0 18407");
            const expected = [
              "tcp/0.0.0.0:18401",
              "tcp/0.0.0.0:18407",
              "tcp/127.0.0.1:18402",
              "tcp/[::]:18403",
              "udp/0.0.0.0:18404",
            ];
            await seen(
              () =>
                JSON.stringify([...running.keys].sort()) ===
                  JSON.stringify(expected),
              "the 5 sockets",
              changedAt,
            );
            assertEquals([...running.keys].sort(), expected);
            assertEquals(
              running.lines.filter((line) => line.add === "tcp/0.0.0.0:18409"),
              [],
            );
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

        await t.step(
          "a closed TCP listener is removed; a closed UDP socket by the next scan a later listener wakes",
          async () => {
            const changedAt = performance.now();
            await holder.command("close tcp 127.0.0.1 18402");
            await seen(
              () => !running.keys.has("tcp/127.0.0.1:18402"),
              "the closed TCP listener gone",
              changedAt,
            );
            // A UDP close has no kernel event: the next woken scan finds it.
            const closedAt = performance.now();
            await holder.command("close udp 0.0.0.0 18404");
            await holder.command("listen tcp 0.0.0.0 18408");
            await seen(
              () =>
                !running.keys.has("udp/0.0.0.0:18404") &&
                running.keys.has("tcp/0.0.0.0:18408"),
              "the closed UDP socket gone, 18408 there",
              closedAt,
            );
            assertEquals([...running.keys].sort(), [
              "tcp/0.0.0.0:18401",
              "tcp/0.0.0.0:18406",
              "tcp/0.0.0.0:18407",
              "tcp/0.0.0.0:18408",
              "tcp/[::]:18403",
            ]);
          },
        );
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
