/**
 * The Kubernetes source against the FAKE list + watch API server
 * (tests/fake_kube_api.ts) with 5,000 services, the agent as its own process
 * (tests/fixtures/agent_in_netns.ts, run in this namespace: loopback only):
 *
 * - time from the agent process's start to its first snapshot and to every
 *   service's binding forwarded;
 * - RSS of the agent process (main thread + Kubernetes worker) with them;
 * - agent-added latency of watch events: the worker's observedAt → the
 *   forwarder's add, and the API server's change → the add, over 100 new
 *   services one at a time.
 *
 * Run: `deno run --allow-all bench/kubernetes_figures.ts [services]`
 *
 * @module
 */
import { FakeKubeApi, fakeService } from "../tests/fake_kube_api.ts";
import { HOST_NAMESPACE } from "../tests/netns.ts";
import { startNetnsAgent } from "../tests/netns_agent.ts";
import { onlySources } from "../tests/test_options.ts";
import { wallClockMs } from "../support/clock.ts";
import {
  EVENT_SOURCE_TARGET,
  print,
  processUsage,
  report,
  reportValue,
} from "./latency_support.ts";

const SERVICES = Number(Deno.args[0] ?? 5000);
const EVENTS = 100;

const api = new FakeKubeApi();
await api.start();
for (let i = 0; i < SERVICES; i++) {
  api.apply(
    fakeService(`s${i}`, "LoadBalancer", [{ port: 10_000 + i }], `ns${i % 50}`),
  );
}
const dir = await Deno.makeTempDir({ prefix: "gak8sbench" });
await Deno.writeTextFile(`${dir}/kubeconfig`, api.kubeconfig());
const startedAt = wallClockMs();
const agent = await startNetnsAgent(HOST_NAMESPACE, {
  ...onlySources("kubernetes"),
  mode: "listeners",
  kubeconfig: `${dir}/kubeconfig`,
});
try {
  // +1: the static Kubernetes API binding.
  await agent.until(
    () => agent.keys.size === SERVICES + 1,
    "every service",
    120_000,
  );
  const snapshot = agent.lines.find((line) =>
    line.message?.type === "snapshot"
  )!;
  const allAdded = agent.lines.findLast((line) => line.add !== undefined)!;
  print(
    `fake API server with ${SERVICES} LoadBalancer services, 50 namespaces`,
  );
  reportValue(
    `agent start → first snapshot (${SERVICES} services)`,
    snapshot.at - startedAt,
    "ms",
  );
  reportValue(
    `agent start → all ${SERVICES} services forwarded`,
    allAdded.at - startedAt,
    "ms",
  );
  await new Promise((resolve) => setTimeout(resolve, 1000));
  reportValue(
    `agent RSS, ${SERVICES} services listed`,
    processUsage(agent.pid).rssMiB,
    "MiB",
  );

  const agentAdded: number[] = [];
  const changeToAdd: number[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const port = 40_000 + i;
    const key = `tcp/0.0.0.0:${port}`;
    const changedAt = wallClockMs();
    api.apply(fakeService(`new${i}`, "LoadBalancer", [{ port }]));
    await agent.until(() => agent.keys.has(key), key);
    const added = agent.lines.find((line) => line.add === key)!;
    const upsert = agent.lines.find((line) =>
      line.message?.type === "upsert" &&
      (line.message as unknown as { ownerId: string }).ownerId === `new${i}`
    )!;
    const observedAt =
      (upsert.message as unknown as { observedAt: number }).observedAt;
    agentAdded.push(added.at - observedAt);
    changeToAdd.push(added.at - changedAt);
  }
  report(
    `agent-added, watch event → add (${EVENTS} services)`,
    agentAdded,
    EVENT_SOURCE_TARGET,
  );
  report("API server change → add", changeToAdd);
  reportValue(
    `agent RSS after ${EVENTS} more services`,
    processUsage(agent.pid).rssMiB,
    "MiB",
  );
} finally {
  await agent.stop();
  await api.stop();
  await Deno.remove(dir, { recursive: true });
}
