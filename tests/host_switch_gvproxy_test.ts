/**
 * Host-switch mode against the real host side: gvproxy v0.8.1 (the version
 * Rancher Desktop pins) and v0.8.7, built from gvisor-tap-vsock in
 * the peers directory (docs/testing.md), each in a network namespace joined to the agent's by a
 * veth pair. The agent runs as its own process (main.ts) inside the
 * namespace of a real dockerd, with the flags the service files pass.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { canRunDockerd, runHttpd, startDockerd } from "./engines/dockerd.ts";
import {
  GVPROXY_VERSIONS,
  haveGvproxy,
  startGvproxy,
} from "./engines/gvproxy.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { readControl, serviceFlags } from "./service_flags.ts";
import { ignoreUnless } from "./requirements.ts";
import { waitUntil } from "./engines/daemon_support.ts";
import type { AgentStatus, PortRow } from "../control/control_view.ts";
import type { HostSwitchMapping } from "../forwarding/host_switch/host_switch_api.ts";
import { IPV6_SKIP_REASON } from "../forwarding/host_switch/host_switch_forwarder.ts";

/** gvproxy's own ssh mapping: never the agent's to touch. */
const GVPROXY_SSH = "tcp 127.0.0.1:2222 -> 192.168.127.2:22";
/**
 * The Kubernetes API port (-kubernetes=true in the service flags) is sent to
 * the WSL proxy only, never exposed through host-switch: Rancher Desktop's
 * host side forwards it itself, and its in-tree agent does not expose it.
 */
const KUBE_API = "tcp 127.0.0.1:6443 -> 192.168.127.2:6443";

const line = (m: HostSwitchMapping) =>
  `${m.protocol} ${m.local} -> ${m.remote}`;
const expected = (...ports: string[]) =>
  [
    GVPROXY_SSH,
    ...ports.map((p) => {
      const [protocol, port] = p.split("/");
      return `${protocol} 127.0.0.1:${port} -> 192.168.127.2:${port}`;
    }),
  ].sort();

let canRun = false;
let missing = "";
for (const version of GVPROXY_VERSIONS) {
  if (!await haveGvproxy(version)) missing = `gvproxy-${version}`;
}
canRun = missing === "" && await canRunDockerd();

Deno.test("host-switch mode converges with real gvproxy builds", {
  ignore: ignoreUnless(
    `root, dockerd, ip netns and the gvproxy peers${
      missing ? ` (no ${missing})` : ""
    }`,
    canRun,
  ),
}, async (t) => {
  const d = await startDockerd();
  const dir = await Deno.makeTempDir({ prefix: "gahs" });
  const run = (name: string, ...publish: string[]) =>
    runHttpd(d, name, ...publish);
  try {
    for (const version of GVPROXY_VERSIONS) {
      await t.step(`gvproxy ${version}`, async (t) => {
        const gv = await startGvproxy(version, d.ns);
        const control = `${dir}/${version}.sock`;
        const stateDir = `${dir}/${version}-state`;
        const args = [
          ...await serviceFlags(),
          `--docker-socket=${d.socket}`,
          `--host-switch-url=${gv.url}`,
          `--state-dir=${stateDir}`,
          `--control-socket=${control}`,
          // This test counts host-switch's rows for the engine's bindings;
          // /proc/net (on in host-switch mode) would add docker-proxy's
          // sockets, seen in this namespace, and the WSL proxy rows of its
          // own. Both run beside gvproxy, with their exact states, in
          // rancher_desktop_e2e_test.ts.
          "--no-procnet",
          "--wsl-proxy-socket=",
        ];
        let agent = spawnAgentProcess(args, d.ns.enter);
        const hostSide = async () => (await gv.all()).map(line).sort();
        const converges = async (want: string[], what: string) => {
          let have: string[] = [];
          await waitUntil(
            async () =>
              JSON.stringify(have = await hostSide()) === JSON.stringify(want),
            15_000,
            `${what}`,
          ).catch((error) => {
            throw new Error(
              `${error.message}: the host side has ${
                JSON.stringify(have)
              }, wanted ${JSON.stringify(want)}; agent log:\n${
                agent.stderr.text().slice(-3000)
              }`,
            );
          });
        };
        const status = () =>
          readControl(control, "/v1/status") as Promise<
            AgentStatus
          >;
        const ports = async () =>
          ((await readControl(control, "/v1/ports")) as { ports: PortRow[] })
            .ports;
        try {
          await run(
            "before",
            "18400:8080",
            "18401:53/udp",
            "127.0.0.1:18402:8080",
          );
          await t.step(
            "containers running before the agent are exposed, the Kubernetes API port is not",
            async () => {
              await converges(
                expected("tcp/18400", "udp/18401", "tcp/18402"),
                "the first mappings",
              );
              assertEquals((await hostSide()).includes(KUBE_API), false);
            },
          );

          await t.step(
            "ports tells the truth about IPv6 bindings",
            async () => {
              await waitUntil(
                async () =>
                  (await ports()).some((row) => row.key === "tcp/[::]:18400"),
                10_000,
                "the IPv6 twin in ports",
              );
              const row = (await ports()).find((r) =>
                r.key === "tcp/[::]:18400"
              )!;
              assertEquals(
                row.deliveries.map((d) => [d.forwarder, d.state, d.reason]),
                [["host-switch", "skipped", IPV6_SKIP_REASON]],
              );
              const v4 = (await ports()).find((r) =>
                r.key === "tcp/0.0.0.0:18400"
              )!;
              assertEquals(v4.deliveries.map((d) => d.state), ["forwarded"]);
            },
          );

          await t.step("a container started later, and removed", async () => {
            await run("later", "18403:8080");
            await converges(
              expected("tcp/18400", "udp/18401", "tcp/18402", "tcp/18403"),
              "later's mapping",
            );
            await d.docker(["rm", "-f", "later"]);
            await converges(
              expected("tcp/18400", "udp/18401", "tcp/18402"),
              "later's mapping removed",
            );
          });

          await t.step(
            "a host side that restarts empty is restored within 10 s",
            async () => {
              await gv.restart();
              const restartedAt = performance.now();
              // gvproxy comes back with its ssh mapping only: the agent's
              // restore of exactly its three says it found them gone.
              await converges(
                expected("tcp/18400", "udp/18401", "tcp/18402"),
                "the mappings restored",
              );
              const took = performance.now() - restartedAt;
              assert(took <= 10_000, `restored after ${took.toFixed(0)} ms`);
              let hs: AgentStatus["forwarders"][number] | undefined;
              await waitUntil(
                async () => {
                  hs = (await status()).forwarders.find((f) =>
                    f.name === "host-switch"
                  );
                  return hs?.lastRestore?.count === 3;
                },
                15_000,
                "the restore of three mappings in status",
              );
              // The three container mappings (no Kubernetes API port).
              assertEquals(hs!.lastRestore?.count, 3, JSON.stringify(hs));
              assertEquals([hs!.healthy, hs!.retrying], [true, 0]);
            },
          );

          await t.step(
            "another program's mapping on a port of ours is left alone",
            async () => {
              // Not ours: another remote. The agent reports it and never removes it.
              await gv.expose({
                local: "127.0.0.1:18404",
                remote: "192.168.127.9:18404",
                protocol: "tcp",
              });
              await run("clash", "18404:8080");
              await waitUntil(
                async () => {
                  const row = (await ports()).find((r) =>
                    r.key === "tcp/0.0.0.0:18404"
                  );
                  return row?.deliveries[0]?.state === "retrying";
                },
                10_000,
                "the clash to be reported",
              );
              const row = (await ports()).find((r) =>
                r.key === "tcp/0.0.0.0:18404"
              )!;
              assert(
                row.deliveries[0]!.lastError!.includes("not by this agent"),
                row.deliveries[0]!.lastError,
              );
              await d.docker(["rm", "-f", "clash"]);
              await waitUntil(
                async () =>
                  !(await ports()).some((r) => r.key === "tcp/0.0.0.0:18404"),
                10_000,
                "clash gone",
              );
              assert(
                (await hostSide()).includes(
                  "tcp 127.0.0.1:18404 -> 192.168.127.9:18404",
                ),
              );
            },
          );

          await t.step(
            "agent SIGKILLed, state file removed, a container removed meanwhile: adopted and cleaned",
            async () => {
              agent.child.kill("SIGKILL");
              await agent.child.status;
              await Deno.remove(stateDir, { recursive: true });
              // "before" held 127.0.0.1:18402: its loopback DNAT rule stays
              // in the agent's chain across the crash.
              await d.docker(["rm", "-f", "before"]);
              await run("after", "18405:8080");
              await run("loop2", "127.0.0.1:18402:8080");
              agent = spawnAgentProcess(args, d.ns.enter);
              await converges(
                [
                  ...expected("tcp/18402", "tcp/18405"),
                  "tcp 127.0.0.1:18404 -> 192.168.127.9:18404",
                ].sort(),
                "the stale mappings removed, the new ones exposed",
              );
              // Nothing retried forever: every wanted mapping is forwarded.
              await waitUntil(
                async () => {
                  const hs = (await status()).forwarders.find((f) =>
                    f.name === "host-switch"
                  );
                  // tcp/18402 and tcp/18405 (no Kubernetes API port).
                  return hs?.retrying === 0 && hs.backlog === 0 &&
                    hs.forwarded === 2;
                },
                10_000,
                "host-switch healthy with 2 forwarded",
              );
              const exposes = agent.stderr.text().match(/cannot add/g) ?? [];
              assertEquals(exposes.length, 0, agent.stderr.text().slice(-2000));
              // The agent's nat chain holds loop2's rule only, and the
              // host side's namespace reaches loop2 through it.
              const loop2 = (await d.docker([
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                "loop2",
              ])).trim();
              let chain: string[] = [];
              await waitUntil(
                async () => {
                  chain = (await d.ns.run([
                    "iptables",
                    "-t",
                    "nat",
                    "-S",
                    "GUEST-AGENT-DNAT",
                  ]))
                    .stdout.split("\n").filter((line) => line.startsWith("-A"));
                  return chain.length === 1 &&
                    chain[0]!.includes(`${loop2}:8080`);
                },
                10_000,
                "the chain rebuilt",
              ).catch((error) => {
                throw new Error(`${error.message}: ${JSON.stringify(chain)}`);
              });
              const page = await gv.hostNs.run([
                Deno.execPath(),
                "eval",
                "console.log(await (await fetch('http://172.26.1.2:18402/', { signal: AbortSignal.timeout(5000) })).text())",
              ]);
              assertEquals(page.stdout.trim(), "guest-agent test", page.stderr);
            },
          );

          await t.step(
            "SIGTERM removes every mapping of ours, confirmed by /all",
            async () => {
              agent.child.kill("SIGTERM");
              const { code } = await agent.child.status;
              await agent.stderr.done;
              assertEquals(code, 0, agent.stderr.text().slice(-2000));
              assertEquals(
                await hostSide(),
                [GVPROXY_SSH, "tcp 127.0.0.1:18404 -> 192.168.127.9:18404"]
                  .sort(),
              );
              assert(
                agent.stderr.text().includes(
                  "every forwarded binding was removed",
                ),
                agent.stderr.text().slice(-2000),
              );
            },
          );
        } finally {
          try {
            agent.child.kill("SIGKILL");
          } catch { /* exited */ }
          await agent.child.status;
          const ids = (await d.docker(["ps", "-aq"])).trim().split("\n")
            .filter(Boolean);
          if (ids.length > 0) await d.docker(["rm", "-f", ...ids]);
          await gv.stop();
        }
      });
    }
  } finally {
    await d.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
