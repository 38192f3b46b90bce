/**
 * Rancher Desktop's own launch, as it is today (docs/protocols.md, "How
 * Rancher Desktop starts the agent"): its WSL backend writes
 * /etc/conf.d/rancher-desktop-guestagent with six GUESTAGENT_* variables,
 * each always set, and its OpenRC script turns every set one into
 * `-flag=value` in a fixed order, joined by spaces, which supervise-daemon
 * splits into words. Our agent, installed at the same path, must start from
 * that command line unchanged: host-switch mode, with the WSL proxy beside
 * host-switch and /proc/net scanned, as the in-tree agent runs.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { parseCommandLine } from "../cli/cli.ts";
import type { AgentOptions } from "../agent/options.ts";
import { createForwarders } from "../agent/create_forwarders.ts";

/** The conf.d settings Rancher Desktop's WSL backend writes. */
interface RancherDesktopSettings {
  readonly engine: "moby" | "containerd";
  readonly kubernetes: boolean;
  readonly adminInstall: boolean;
  /** Kubernetes ingress on localhost only (the setting of that name). */
  readonly localhostOnly: boolean;
  readonly debug: boolean;
}

/** The variables, as the WSL backend computes them. */
function confd(settings: RancherDesktopSettings): Record<string, string> {
  const flag = (on: boolean) => on ? "true" : "false";
  return {
    LOG_DIR: "/mnt/c/Users/me/AppData/Local/rancher-desktop/logs",
    GUESTAGENT_ADMIN_INSTALL: flag(settings.adminInstall),
    GUESTAGENT_KUBERNETES: flag(settings.kubernetes),
    GUESTAGENT_CONTAINERD: flag(settings.engine === "containerd"),
    GUESTAGENT_DOCKER: flag(settings.engine === "moby"),
    GUESTAGENT_DEBUG: flag(settings.debug),
    GUESTAGENT_K8S_SVC_ADDR: settings.adminInstall && !settings.localhostOnly
      ? "0.0.0.0"
      : "127.0.0.1",
  };
}

/**
 * The init script's command_args: for each variable in its order,
 * `${VAR:+-flag=${VAR}}` (nothing when unset or empty), one per line, the
 * newlines then turned into spaces; the service manager splits on spaces.
 */
function initScriptArgs(variables: Record<string, string>): string[] {
  const order: [string, string][] = [
    ["GUESTAGENT_ADMIN_INSTALL", "adminInstall"],
    ["GUESTAGENT_KUBERNETES", "kubernetes"],
    ["GUESTAGENT_DOCKER", "docker"],
    ["GUESTAGENT_CONTAINERD", "containerd"],
    ["GUESTAGENT_K8S_SVC_ADDR", "k8sServiceListenerAddr"],
    ["GUESTAGENT_DEBUG", "debug"],
  ];
  const lines = order.map(([variable, flag]) =>
    variables[variable] ? `-${flag}=${variables[variable]}` : ""
  );
  return `\n  ${lines.join("\n  ")}\n  `.replaceAll("\n", " ").split(/\s+/)
    .filter((word) => word !== "");
}

Deno.test("Rancher Desktop's init script and conf.d start our agent in host-switch mode with the WSL proxy and /proc/net, for every engine and setting", async (t) => {
  for (const engine of ["moby", "containerd"] as const) {
    for (const kubernetes of [true, false]) {
      for (const adminInstall of [false, true]) {
        for (const localhostOnly of adminInstall ? [false, true] : [false]) {
          const settings = {
            engine,
            kubernetes,
            adminInstall,
            localhostOnly,
            debug: !kubernetes,
          };
          const argv = initScriptArgs(confd(settings));
          await t.step(argv.join(" "), () => {
            assertEquals(argv.length, 6);
            const parsed = parseCommandLine(argv);
            assert("options" in parsed, JSON.stringify(parsed));
            const options: AgentOptions = parsed.options;
            assertEquals(options.mode, "host-switch");
            assertEquals([options.docker, options.containerd], [
              engine === "moby",
              engine === "containerd",
            ]);
            assertEquals(options.kubernetes, kubernetes);
            assertEquals(options.adminInstall, adminInstall);
            assertEquals(options.debug, settings.debug);
            assertEquals(
              options.k8sServiceListenerAddr,
              adminInstall && !localhostOnly ? "0.0.0.0" : "127.0.0.1",
            );
            // What the in-tree agent runs besides the engine.
            assertEquals(options.procnet, true);
            assertEquals(options.wslProxySocket, "/run/wsl-proxy.sock");
            // Its defaults: the tap address and the API port are the same.
            assertEquals(options.tapInterfaceIp, "192.168.127.2");
            assertEquals(options.k8sApiPort, 6443);
            assertEquals(
              createForwarders(options, undefined, undefined).map((f) =>
                f.name
              ),
              [
                "host-switch",
                "wsl-proxy",
                "loopback-relay",
                "dnat",
                "listeners",
              ],
            );
          });
        }
      }
    }
  }
});

Deno.test('--wsl-proxy-socket: "" leaves the WSL proxy out, a relative path is refused; --no-procnet still turns /proc/net off', () => {
  const base = ["-docker=true", "-containerd=false"];
  const none = parseCommandLine([...base, "--wsl-proxy-socket="]);
  assert("options" in none, JSON.stringify(none));
  assertEquals(
    createForwarders(none.options, undefined, undefined).map((f) => f.name),
    ["host-switch", "loopback-relay", "dnat", "listeners"],
  );
  const relative = parseCommandLine([
    ...base,
    "--wsl-proxy-socket=run/wsl.sock",
  ]);
  assert(
    "code" in relative && relative.code === 2 &&
      relative.stderr.includes("--wsl-proxy-socket"),
    JSON.stringify(relative),
  );
  const off = parseCommandLine([...base, "--no-procnet"]);
  assert("options" in off, JSON.stringify(off));
  assertEquals(off.options.procnet, false);
  // The v0.4 agent's privileged mode keeps /proc/net off unless asked.
  const privileged = parseCommandLine(["-privilegedService", "-docker"]);
  assert("options" in privileged, JSON.stringify(privileged));
  assertEquals(privileged.options.procnet, false);
});
