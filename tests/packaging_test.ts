/**
 * The service files under packaging/: syntax (sh -n for the OpenRC script
 * and the flags script, systemd-analyze verify for the unit) and the flags
 * they start the agent with, assembled from the env file and parsed by the
 * agent's own command line parser.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { exec } from "./netns.ts";
import { ignoreUnless } from "./requirements.ts";
import { parseCommandLine } from "../cli/cli.ts";

const PACKAGING = new URL("../packaging/", import.meta.url).pathname;
const FLAGS = `${PACKAGING}guest-agent-flags`;
const CONFD = `${PACKAGING}rancher-desktop-guestagent.confd`;

/** Runs the flags script with the env file sourced and `extra` variables set. */
async function flags(extra: Record<string, string> = {}, confd = CONFD) {
  const assignments = Object.entries(extra).map(([k, v]) =>
    `${k}='${v.replaceAll("'", "'\\''")}'`
  ).join(" ");
  return await exec([
    "sh",
    "-c",
    `set -a; . '${confd}'; ${assignments} set +a; exec '${FLAGS}'`,
  ]);
}

Deno.test("the OpenRC script and the flags script are valid sh", async () => {
  for (
    const file of ["rancher-desktop-guestagent.openrc", "guest-agent-flags"]
  ) {
    const result = await exec(["sh", "-n", `${PACKAGING}${file}`]);
    assertEquals(result.code, 0, `${file}: ${result.stderr}`);
  }
  const openrc = await Deno.readTextFile(
    `${PACKAGING}rancher-desktop-guestagent.openrc`,
  );
  assertStringIncludes(openrc, "supervisor=supervise-daemon");
  assertStringIncludes(
    openrc,
    'command_args="$(/usr/local/libexec/guest-agent-flags)"',
  );
  assertStringIncludes(openrc, "respawn_delay=5");
  assertStringIncludes(openrc, 'rc_ulimit="${rc_ulimit:--n 1048576}"');
});

Deno.test("the systemd unit passes systemd-analyze verify", {
  ignore: ignoreUnless(
    "systemd-analyze (package systemd)",
    (await exec(["sh", "-c", "command -v systemd-analyze"])).code === 0,
  ),
}, async () => {
  const result = await exec([
    "systemd-analyze",
    "verify",
    `${PACKAGING}rancher-desktop-guestagent.service`,
  ]);
  assertEquals(result.code, 0, result.stderr);
  const unit = await Deno.readTextFile(
    `${PACKAGING}rancher-desktop-guestagent.service`,
  );
  assertStringIncludes(
    unit,
    "EnvironmentFile=-/etc/conf.d/rancher-desktop-guestagent",
  );
  assertStringIncludes(unit, "$(/usr/local/libexec/guest-agent-flags)");
  assertStringIncludes(unit, "Restart=on-failure");
  assertStringIncludes(unit, "LimitNOFILE=1048576");
});

Deno.test("the env file's settings become flags the agent accepts", async () => {
  const result = await flags();
  assertEquals(result.code, 0, result.stderr);
  const argv = result.stdout.trim().split(" ");
  assertEquals(argv, [
    "-docker",
    "-kubernetes=true",
    "-iptables=true",
    "-privilegedService=false",
    "-k8sServiceListenerAddr=127.0.0.1",
    "-debug=false",
  ]);
  const parsed = parseCommandLine(argv, {});
  assert(parsed.kind === "run", JSON.stringify(parsed));
  const { options } = parsed;
  assertEquals(
    [
      options.mode,
      options.docker,
      options.containerd,
      options.kubernetes,
      options.iptables,
    ],
    ["host-switch", true, false, true, true],
  );
  assertEquals(options.k8sServiceListenerAddr, "127.0.0.1");
});

Deno.test("every variable maps to its flag; a bad engine is refused", async () => {
  const result = await flags({
    GUESTAGENT_CONTAINER_ENGINE: "containerd",
    GUESTAGENT_PRIVILEGED_SERVICE: "true",
    GUESTAGENT_VTUNNEL_ADDR: "vsock://2:17381",
    GUESTAGENT_K8S_API_PORT: "7443",
    GUESTAGENT_ADMIN_INSTALL: "true",
    GUESTAGENT_CONTAINERD_SOCK: "/run/containerd/containerd.sock",
    GUESTAGENT_EXTRA_ARGS: "--procnet --ignore-port 22",
  });
  assertEquals(result.code, 0, result.stderr);
  const parsed = parseCommandLine(result.stdout.trim().split(" "), {});
  assert(parsed.kind === "run", JSON.stringify(parsed));
  const { options } = parsed;
  assertEquals(options.mode, "privileged");
  assertEquals(options.containerd, true);
  assertEquals(options.vtunnelAddr, "vsock://2:17381");
  assertEquals(options.k8sApiPort, 7443);
  assertEquals(options.adminInstall, true);
  assertEquals(options.containerdSocket, "/run/containerd/containerd.sock");
  assertEquals([options.procnet, options.ignorePorts], [true, [22]]);

  const bad = await flags({ GUESTAGENT_CONTAINER_ENGINE: "podman" });
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "accepted are moby and containerd");
});
