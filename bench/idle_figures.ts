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
  HOST_NAMESPACE,
  type TestNamespace,
} from "../tests/netns.ts";
import { startNetnsAgent } from "../tests/netns_agent.ts";
import { onlySources } from "../tests/test_options.ts";
import type { SourceName } from "../sources/registry.ts";
import { print, processUsage, reportValue } from "./latency_support.ts";

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
print(
  `idle ${IDLE_SECONDS} s per combination; CPU includes child processes (iptables-save)`,
);
try {
  for (const sources of combos) {
    // Kubernetes needs the fake API server on this namespace's loopback.
    const own = sources.includes("kubernetes")
      ? undefined
      : await createTestNamespace("ga-idle");
    const where: Pick<TestNamespace, "spawn"> = own ?? HOST_NAMESPACE;
    const agent = await startNetnsAgent(where, {
      ...onlySources(...sources),
      mode: "listeners",
      kubeconfig: `${dir}/kubeconfig`,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // settle
      const before = processUsage(agent.pid);
      await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
      const after = processUsage(agent.pid);
      const name = sources.join(" + ");
      reportValue(
        `idle CPU, ${name}`,
        (after.cpuSeconds - before.cpuSeconds) / IDLE_SECONDS * 100,
        "% of a core",
        0.5,
      );
      reportValue(`idle RSS, ${name}`, after.rssMiB, "MiB");
    } finally {
      await agent.stop();
      await own?.delete();
    }
  }
} finally {
  await api.stop();
  await Deno.remove(dir, { recursive: true });
}
