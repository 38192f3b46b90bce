/**
 * iptables and /proc/net figures against real iptables in a network
 * namespace, the agent running inside it (root, ip netns, iptables,
 * iptables-legacy needed):
 *
 * 1. detection latency: `iptables -t nat -A DOCKER …` returning → the
 *    forwarder's add, over `count` rules, with nf_tables change
 *    notifications, and over 30 with polling (legacy backend, default
 *    interval), each rule added at a random moment;
 * 2. one scan (iptables-save as a child process, then the parse) at 10,
 *    1,000 and 5,000 rules: wall time, and CPU of child + parse;
 * 3. the agent idle for 60 s with the iptables (notifications) and procnet
 *    (1 s polls) sources on: CPU used, as a share of one core.
 *
 * Prints medians and p99; asserts nothing about speed.
 *
 * Run: `deno run --allow-all bench/iptables_figures.ts [count] [idle seconds]`
 *
 * @module
 */
import { DEFAULT_OPTIONS } from "../agent/options.ts";
import { parseNatTable } from "../sources/iptables/parse_iptables.ts";
import { runCommand } from "../support/run_command.ts";
import { wallClockMs } from "../support/clock.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  exec,
  restoreNat,
  type TestNamespace,
} from "../tests/netns.ts";
import { type NetnsAgent, startNetnsAgent } from "../tests/netns_agent.ts";
import { onlySources } from "../tests/test_options.ts";
import { percentile, print, processUsage, report } from "./latency_support.ts";

const COUNT = Number(Deno.args[0] ?? 100);
/** Polled detection takes about two intervals a rule: fewer rules. */
const POLLED_COUNT = Math.min(COUNT, 30);
const IDLE_SECONDS = Number(Deno.args[1] ?? 60);

if (!await canCreateNamespaces()) {
  print("iptables_figures: needs root and ip netns", Deno.stderr);
  Deno.exit(1);
}

const QUIET = onlySources("iptables");

async function detection(
  ns: TestNamespace,
  agent: NetnsAgent,
  binary: string,
  firstPort: number,
  options: { count: number; maxJitterMs: number },
): Promise<number[]> {
  const latencies: number[] = [];
  const created = await exec([
    ...ns.enter,
    binary,
    "-t",
    "nat",
    "-N",
    "DOCKER",
  ]);
  if (created.code !== 0) throw new Error(created.stderr);
  for (let i = 0; i < options.count; i++) {
    // Out of step with the agent's scans, as real rule changes are.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.random() * options.maxJitterMs)
    );
    const port = firstPort + i;
    const result = await exec([
      ...ns.enter,
      binary,
      "-t",
      "nat",
      "-A",
      "DOCKER",
      "-p",
      "tcp",
      "-m",
      "tcp",
      "--dport",
      String(port),
      "-j",
      "DNAT",
      "--to-destination",
      `172.17.0.2:${port}`,
    ]);
    const returnedAt = wallClockMs();
    if (result.code !== 0) throw new Error(result.stderr);
    const key = `tcp/0.0.0.0:${port}`;
    await agent.until(() => agent.keys.has(key), key, 30_000);
    const added = agent.lines.find((line) => line.add === key)!;
    latencies.push(added.at - returnedAt);
  }
  return latencies;
}

async function withAgent<T>(
  overrides: Record<string, unknown>,
  env: Record<string, string>,
  body: (ns: TestNamespace, agent: NetnsAgent) => Promise<T>,
): Promise<T> {
  const ns = await createTestNamespace("ga-iptbench");
  let agent: NetnsAgent | undefined;
  try {
    agent = await startNetnsAgent(ns, overrides, env);
    return await body(ns, agent);
  } finally {
    await agent?.stop();
    await ns.delete();
  }
}

async function scanCost(ns: TestNamespace, rules: number) {
  const lines = Array.from(
    { length: rules },
    (_, i) =>
      `-A DOCKER -p tcp -m tcp --dport ${
        1 + i
      } -j DNAT --to-destination 172.17.${i >> 8}.${i & 255}:80`,
  );
  await restoreNat(
    ns,
    ["*nat", ":DOCKER - [0:0]", ...lines, "COMMIT", ""].join("\n"),
  );
  const walls: number[] = [];
  const parses: number[] = [];
  const runs = 20;
  const cpuBefore = processUsage("self").cpuSeconds;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const saved = await runCommand(ns.enter[0]!, [
      ...ns.enter.slice(1),
      "--",
      "iptables-save",
      "-t",
      "nat",
    ]);
    const parseStart = performance.now();
    const scan = parseNatTable(saved.stdout, "ipv4");
    const end = performance.now();
    if (scan.entries.length !== rules) {
      throw new Error(`scanned ${scan.entries.length} of ${rules} rules`);
    }
    walls.push(end - start);
    parses.push(end - parseStart);
  }
  const cpuMs = (processUsage("self").cpuSeconds - cpuBefore) * 1000 / runs;
  return { walls, parses, cpuMs };
}

// 1. Detection latency.
const notified = await withAgent(
  { ...QUIET, iptablesResyncMs: 600_000 },
  {},
  (ns, agent) =>
    detection(ns, agent, "iptables", 20000, { count: COUNT, maxJitterMs: 20 }),
);
const legacyBin = await Deno.makeTempDir({ prefix: "gaiptb" });
const legacySave = (await exec(["sh", "-c", "command -v iptables-legacy-save"]))
  .stdout.trim();
let polled: number[] = [];
if (legacySave !== "") {
  await Deno.symlink(legacySave, `${legacyBin}/iptables-save`);
  polled = await withAgent(
    { ...QUIET, iptablesResyncMs: 600_000 },
    { PATH: `${legacyBin}:${Deno.env.get("PATH")}` },
    (ns, agent) =>
      detection(ns, agent, "iptables-legacy", 21000, {
        count: POLLED_COUNT,
        maxJitterMs: DEFAULT_OPTIONS.iptablesIntervalMs,
      }),
  );
}
await Deno.remove(legacyBin, { recursive: true });
print(
  `iptables -A returned → forwarder add, rules one at a time at random moments`,
);
report("agent-added, iptables with nf_tables notifications", notified, {
  median: 50,
  p99: 50,
});
if (polled.length > 0) {
  report(
    `agent-added, iptables polling (legacy, every ${DEFAULT_OPTIONS.iptablesIntervalMs} ms)`,
    polled,
  );
}

// 2. Scan cost.
print("one scan: iptables-save (nf_tables) child + parse, 20 runs each");
for (const rules of [10, 1_000, 5_000]) {
  const ns = await createTestNamespace("ga-iptscan");
  try {
    const { walls, parses, cpuMs } = await scanCost(ns, rules);
    print(
      `${String(rules).padStart(5)} rules: wall median ${
        percentile(walls, 50).toFixed(2)
      } ms (parse ${percentile(parses, 50).toFixed(2)} ms), CPU ${
        cpuMs.toFixed(1)
      } ms per scan`,
    );
  } finally {
    await ns.delete();
  }
}

// 3. Idle CPU with both sources on.
await withAgent(
  onlySources("iptables", "procnet"),
  {},
  async (_ns, agent) => {
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // settle
    const before = processUsage(agent.pid).cpuSeconds;
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const used = processUsage(agent.pid).cpuSeconds - before;
    print(
      `idle ${IDLE_SECONDS} s, iptables (notifications) + procnet (1 s): ${
        used.toFixed(2)
      } CPU s = ${(used / IDLE_SECONDS * 100).toFixed(2)}% of one core`,
    );
  },
);
