/**
 * /proc/net source latency against real sockets in a network namespace, the
 * agent running inside it: a helper process there opens a TCP listener
 * (its `listen` returned) → the forwarder's add, and closes it → the
 * forwarder's remove, one socket at a time at random moments, at the
 * default scan interval and at a short one. The source publishes a port
 * after two consecutive scans see it (a socket that lives shorter than a
 * scan is never forwarded) and drops it at the first scan without it, so
 * an add takes one to two intervals and a remove up to one.
 *
 * Run: `deno run --allow-all bench/procnet_latency.ts [count]` (root)
 *
 * @module
 */
import { DEFAULT_OPTIONS } from "../agent/options.ts";
import { wallClockMs } from "../support/clock.ts";
import { canCreateNamespaces, createTestNamespace } from "../tests/netns.ts";
import { type NetnsAgent, startNetnsAgent } from "../tests/netns_agent.ts";
import { startSocketHolder } from "../tests/netns_sockets.ts";
import { onlySources } from "../tests/test_options.ts";
import { print, report } from "./latency_support.ts";

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

print(
  `procnet source in a network namespace, ${COUNT} TCP listeners one at a time`,
);
for (const intervalMs of [DEFAULT_OPTIONS.procnetIntervalMs, 250]) {
  const ns = await createTestNamespace("ga-pnbench");
  const holder = startSocketHolder(ns);
  let agent: NetnsAgent | undefined;
  try {
    agent = await startNetnsAgent(ns, {
      ...onlySources("procnet"),
      procnetIntervalMs: intervalMs,
    });
    const running = agent;
    const added: number[] = [];
    const removed: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const port = 19000 + i;
      const key = `tcp/0.0.0.0:${port}`;
      // Out of step with the scans, as programs start.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * intervalMs)
      );
      await holder.command(`listen tcp 0.0.0.0 ${port}`);
      const listening = wallClockMs();
      await running.until(
        () => lineAt(running, "add", key, listening) !== undefined,
        key,
        10 * intervalMs + 5_000,
      );
      added.push(lineAt(running, "add", key, listening)! - listening);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * intervalMs)
      );
      await holder.command(`close tcp 0.0.0.0 ${port}`);
      const closed = wallClockMs();
      await running.until(
        () => lineAt(running, "remove", key, closed) !== undefined,
        `${key} removed`,
        10 * intervalMs + 5_000,
      );
      removed.push(lineAt(running, "remove", key, closed)! - closed);
    }
    report(`listen returned → add, scans every ${intervalMs} ms`, added);
    report(`close returned → remove, scans every ${intervalMs} ms`, removed);
  } finally {
    await agent?.stop();
    await holder.stop();
    await ns.delete();
  }
}
