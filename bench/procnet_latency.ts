/**
 * /proc/net source latency against real sockets in a network namespace, the
 * agent running inside it: a helper process there opens a TCP listener
 * (its `listen` returned and it answered) → the forwarder's add, and closes
 * it → the forwarder's remove, one socket at a time at random moments; with
 * the scan woken by kernel tracepoints (tracefs mounted in the agent's
 * private mount namespace, or left unmounted there for the agent to mount
 * as it does on a fresh VM; UDP binds too), and polling (tracefs hidden) at
 * the default interval and a short one. A port is published once a second
 * scan `confirmMs` later still sees it, and dropped at the first scan
 * without it.
 *
 * Run: `deno run --allow-all bench/procnet_latency.ts [count]` (root)
 *
 * @module
 */
import { DEFAULT_OPTIONS } from "../agent/options.ts";
import { wallClockMs } from "../support/clock.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  type TracefsSetup,
  withTracefs,
} from "../tests/netns.ts";
import { type NetnsAgent, startNetnsAgent } from "../tests/netns_agent.ts";
import { startSocketHolder } from "../tests/netns_sockets.ts";
import { onlySources } from "../tests/test_options.ts";
import { print, report, type Target } from "./latency_support.ts";

const COUNT = Number(Deno.args[0] ?? 30);

if (!await canCreateNamespaces()) {
  print("procnet_latency: needs root and ip netns", Deno.stderr);
  Deno.exit(1);
}

/** The time of the first line after `since` that adds or removes `key`. */
function lineAt(
  agent: NetnsAgent,
  what: "add" | "remove",
  key: string,
  since: number,
): number | undefined {
  return agent.lines.find((line) => line[what] === key && line.at >= since)
    ?.at;
}

/** One way of running the source, measured in a namespace of its own. */
interface Setup {
  readonly label: string;
  readonly tracefs: TracefsSetup;
  readonly intervalMs: number;
  /** The target of `listen` returned → add, where one is set. */
  readonly target?: Target;
}

const SETUPS: readonly Setup[] = [
  { label: "kernel tracepoints", tracefs: "mounted", intervalMs: 1000 },
  {
    label: "kernel tracepoints, tracefs mounted by the agent",
    tracefs: "unmounted",
    intervalMs: 1000,
    target: { median: 50 },
  },
  {
    label: `polling every ${DEFAULT_OPTIONS.procnetIntervalMs} ms (no tracefs)`,
    tracefs: "hidden",
    intervalMs: DEFAULT_OPTIONS.procnetIntervalMs,
  },
  {
    label: "polling every 250 ms (no tracefs)",
    tracefs: "hidden",
    intervalMs: 250,
  },
];

/** Opens a socket, waits for its add; closes it, waits for its remove. */
async function measure(
  running: NetnsAgent,
  holder: ReturnType<typeof startSocketHolder>,
  protocol: "tcp" | "udp",
  port: number,
  spreadMs: number,
  timeoutMs: number,
): Promise<{ added: number; removed?: number }> {
  const key = `${protocol}/0.0.0.0:${port}`;
  // Out of step with any scan, as programs start.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * spreadMs));
  await holder.command(`listen ${protocol} 0.0.0.0 ${port}`);
  const listening = wallClockMs();
  await running.until(
    () => lineAt(running, "add", key, listening) !== undefined,
    key,
    timeoutMs,
  );
  const added = lineAt(running, "add", key, listening)! - listening;
  await new Promise((resolve) => setTimeout(resolve, Math.random() * spreadMs));
  await holder.command(`close ${protocol} 0.0.0.0 ${port}`);
  const closed = wallClockMs();
  if (protocol === "udp") {
    // A UDP close has no kernel event: it waits for the rescan; not timed.
    await running.until(
      () => lineAt(running, "remove", key, closed) !== undefined,
      `${key} removed`,
      timeoutMs + 60_000,
    );
    return { added };
  }
  await running.until(
    () => lineAt(running, "remove", key, closed) !== undefined,
    `${key} removed`,
    timeoutMs,
  );
  return { added, removed: lineAt(running, "remove", key, closed)! - closed };
}

print(
  `procnet source in a network namespace, ${COUNT} sockets one at a time per setup`,
);
for (const setup of SETUPS) {
  const ns = await createTestNamespace("ga-pnbench");
  const holder = startSocketHolder(ns);
  let agent: NetnsAgent | undefined;
  try {
    agent = await startNetnsAgent(withTracefs(ns, setup.tracefs), {
      ...onlySources("procnet"),
      procnetIntervalMs: setup.intervalMs,
      // UDP closes wait for the rescan: short here so the run ends.
      procnetRescanMs: 2_000,
    });
    const events = setup.tracefs !== "hidden";
    const spreadMs = events ? 300 : setup.intervalMs;
    const timeoutMs = 10 * setup.intervalMs + 5_000;
    const added: number[] = [];
    const removed: number[] = [];
    const udpAdded: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const tcp = await measure(
        agent,
        holder,
        "tcp",
        19000 + i,
        spreadMs,
        timeoutMs,
      );
      added.push(tcp.added);
      removed.push(tcp.removed!);
      if (events) {
        udpAdded.push(
          (await measure(agent, holder, "udp", 19500 + i, spreadMs, timeoutMs))
            .added,
        );
      }
    }
    report(`listen returned → add, ${setup.label}`, added, setup.target);
    report(`TCP close returned → remove, ${setup.label}`, removed);
    if (events) report(`UDP bind returned → add, ${setup.label}`, udpAdded);
  } finally {
    await agent?.stop();
    await holder.stop();
    await ns.delete();
  }
}
