/**
 * Real kube-apiserver restarted → the Kubernetes source back: the agent
 * (the real worker) follows a real API server (the peers directory, docs/testing.md, with
 * Debian's etcd); the API server is stopped by SIGKILL (a crash) or SIGTERM
 * (graceful), started again, and the figure is the time from it answering
 * `/readyz` to a service created right then being forwarded. The project's
 * bound is 2 s.
 *
 * Run: `deno run --allow-all bench/kube_apiserver_figures.ts [restarts]`.
 *
 * @module
 */
import { cleanUpOnce, print, report } from "./latency_support.ts";
import {
  canRunKubeApiServer,
  startKubeApiServer,
} from "../tests/engines/kube_apiserver.ts";
import { onlySources, TEST_OPTIONS } from "../tests/test_options.ts";
import { injected, RecordingForwarder } from "../tests/recording_forwarder.ts";
import { startAgent } from "../agent/run_agent.ts";

const RESTARTS = Number(Deno.args[0] ?? 5);

if (!await canRunKubeApiServer()) {
  print("kube_apiserver_figures: no kube-apiserver peer or etcd; skipped");
  Deno.exit(0);
}
const k = await startKubeApiServer(200);
const forwarder = new RecordingForwarder();
const agent = await startAgent({
  ...TEST_OPTIONS,
  ...onlySources("kubernetes"),
  mode: "listeners",
  kubeconfig: k.kubeconfig,
}, injected([forwarder]));
const cleanUp = cleanUpOnce("kube_apiserver_figures", async () => {
  await agent.stop();
  await k.stop();
});

try {
  await k.applyService("first", "LoadBalancer", [{ port: 9100 }]);
  await forwarder.until(() => forwarder.keys.has("tcp/0.0.0.0:9100"), "first");
  let port = 9101;
  for (const signal of ["KILL", "TERM"] as const) {
    const times: number[] = [];
    for (let round = 0; round < RESTARTS; round++) {
      await k.stopApiServer(signal);
      await forwarder.until(
        () =>
          agent.supervisor.status().find((s) => s.name === "kubernetes")
            ?.state === "reconnecting",
        "the source to notice",
      );
      await k.startApiServer(); // resolves once /readyz answers
      const ready = performance.now();
      const key = `tcp/0.0.0.0:${port}`;
      await k.applyService(`svc-${port}`, "LoadBalancer", [{ port }]);
      await forwarder.until(() => forwarder.keys.has(key), key);
      times.push(performance.now() - ready);
      port++;
    }
    report(
      `API server SIG${signal}ed: ready → new service forwarded`,
      times,
      { median: 2_000 },
    );
  }
} finally {
  await cleanUp();
}
