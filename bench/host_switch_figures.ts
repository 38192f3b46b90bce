/**
 * Host side restarted → every mapping restored: the agent (main.ts, its own
 * process, host-switch mode) exposes 20 ports through a real gvproxy (each
 * build in the peers directory), then gvproxy is restarted (it comes back with
 * no mapping and says nothing); the figure is the time from the restarted
 * gvproxy answering to `/all` listing every mapping again. The project's
 * bound is 10 s; the agent reads `/all` every 5 s.
 *
 * The ports are sockets held open in the agent's namespace, seen by the
 * /proc/net source (`-docker` with no engine selects host-switch mode).
 *
 * Run: `deno run --allow-all bench/host_switch_figures.ts` (root).
 *
 * @module
 */
import { cleanUpOnce, percentile, print, report } from "./latency_support.ts";
import { createTestNamespace } from "../tests/netns.ts";
import { startSocketHolder } from "../tests/netns_sockets.ts";
import {
  GVPROXY_VERSIONS,
  haveGvproxy,
  startGvproxy,
} from "../tests/engines/gvproxy.ts";
import { spawnAgentProcess } from "../tests/agent_process.ts";
import { waitUntil } from "../tests/engines/daemon_support.ts";

const PORTS = 20;
const RESTARTS = 5;
const FIRST_PORT = 25_000;

const ns = await createTestNamespace("ga-hsbench");
const holder = startSocketHolder(ns);
const dir = await Deno.makeTempDir({ prefix: "gahsb" });
const cleanUp = cleanUpOnce("host_switch_figures", async () => {
  await holder.stop();
  await ns.delete();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

try {
  for (let i = 0; i < PORTS; i++) {
    await holder.command(`listen tcp 0.0.0.0 ${FIRST_PORT + i}`);
  }
  for (const version of GVPROXY_VERSIONS) {
    if (!await haveGvproxy(version)) {
      print(`gvproxy ${version}: not in the peers directory; skipped`);
      continue;
    }
    const gv = await startGvproxy(version, ns);
    const agent = spawnAgentProcess([
      "-docker",
      `--docker-socket=${dir}/no-engine.sock`,
      "--procnet",
      "--procnet-interval=250",
      `--host-switch-url=${gv.url}`,
      `--state-dir=${dir}/${version}`,
    ], ns.enter);
    const ours = async () =>
      (await gv.all()).filter((m) =>
        m.remote.startsWith("192.168.127.2:") &&
        m.local !== "127.0.0.1:2222"
      ).length;
    try {
      await waitUntil(async () => await ours() === PORTS, 20_000, "exposed")
        .catch((error) => {
          throw new Error(`${error.message}: ${agent.stderr.text()}`);
        });
      const restored: number[] = [];
      for (let round = 0; round < RESTARTS; round++) {
        await gv.restart(); // returns once the new gvproxy answers
        const back = performance.now();
        await waitUntil(async () => await ours() === PORTS, 20_000, "restored");
        restored.push(performance.now() - back);
      }
      report(
        `gvproxy ${version} restarted → ${PORTS} mappings restored`,
        restored,
        { median: 10_000 },
      );
      print(
        `  max ${Math.max(...restored).toFixed(0)} ms, p50 ${
          percentile(restored, 50).toFixed(0)
        } ms`,
      );
    } finally {
      agent.child.kill("SIGTERM");
      await agent.child.status;
      await gv.stop();
    }
  }
} finally {
  await cleanUp();
}
