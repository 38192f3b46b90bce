/**
 * Idle cost of the agent process per source combination: CPU used over an
 * idle period (as a share of one core) and RSS. The agent
 * (tests/fixtures/agent_in_netns.ts) runs in a network namespace of its own,
 * except with the Kubernetes source, which watches the fake API server (10
 * services) on this machine's loopback and so runs in this namespace.
 *
 * Run: `deno run --allow-all bench/idle_figures.ts [idle seconds]` (root)
 *
 * @module
 */
import { FakeKubeApi, fakeService } from "../tests/fake_kube_api.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  type TestNamespace,
  withTracefs,
} from "../tests/netns.ts";
import { startNetnsAgent } from "../tests/netns_agent.ts";
import { onlySources } from "../tests/test_options.ts";
import type { SourceName } from "../sources/registry.ts";
import {
  preciseCpuSeconds,
  print,
  processUsage,
  reportValue,
} from "./latency_support.ts";

const IDLE_SECONDS = Number(Deno.args[0] ?? 60);

if (!await canCreateNamespaces()) {
  print("idle_figures: needs root and ip netns", Deno.stderr);
  Deno.exit(1);
}

const api = new FakeKubeApi();
await api.start();
for (let i = 0; i < 10; i++) {
  api.apply(
    fakeService(`s${i}`, "NodePort", [{ port: 80, nodePort: 30000 + i }]),
  );
}
const dir = await Deno.makeTempDir({ prefix: "gaidle" });
await Deno.writeTextFile(`${dir}/kubeconfig`, api.kubeconfig());

const combos: SourceName[][] = [
  ["procnet"],
  ["iptables"],
  ["iptables", "procnet"],
  ["kubernetes"],
  ["iptables", "kubernetes", "procnet"],
];
/**
 * How long the agent runs before the idle period: V8 keeps collecting for
 * tens of seconds after start-up (measured here: 18 wake-ups and 80 ms of CPU
 * in the 30 s after a 10 s settle, 2 wake-ups and 1.2 ms after 60 s).
 */
const SETTLE_MS = 60_000;
print(
  `idle ${IDLE_SECONDS} s per combination after ${
    SETTLE_MS / 1000
  } s; tracefs mounted in the agent's mount namespace (procnet woken by tracepoints) unless said; CPU from the threads' schedstat plus child processes (iptables-save)`,
);
try {
  const runs = [
    ...combos.map((sources) => ({ sources, tracefs: "mounted" as const })),
    { sources: ["procnet"] as SourceName[], tracefs: "hidden" as const },
  ];
  for (const { sources, tracefs } of runs) {
    // Kubernetes needs the fake API server on this namespace's loopback.
    const own = sources.includes("kubernetes")
      ? undefined
      : await createTestNamespace("ga-idle");
    const where: Pick<TestNamespace, "spawn"> = withTracefs(
      own ?? { enter: [] },
      tracefs,
    );
    const agent = await startNetnsAgent(where, {
      ...onlySources(...sources),
      mode: "listeners",
      kubeconfig: `${dir}/kubeconfig`,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const before = preciseCpuSeconds(agent.pid);
      await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
      const after = preciseCpuSeconds(agent.pid);
      const name = sources.join(" + ") +
        (tracefs === "hidden" ? " (polling: no tracefs)" : "");
      reportValue(
        `idle CPU, ${name}`,
        (after - before) / IDLE_SECONDS * 100,
        "% of a core",
        sources.length === 1 && sources[0] === "procnet" ? 0.02 : 0.05,
      );
      reportValue(`idle RSS, ${name}`, processUsage(agent.pid).rssMiB, "MiB");
    } finally {
      await agent.stop();
      await own?.delete();
    }
  }
} finally {
  await api.stop();
  await Deno.remove(dir, { recursive: true });
}
