import { assertEquals, assertStringIncludes } from "../tests/assert.ts";
import { ignoreUnless } from "../tests/requirements.ts";
import { DEFAULT_OPTIONS } from "./options.ts";
import { type MachineProbe, planSources, systemProbe } from "./plan_sources.ts";

function probe(
  files: string[],
  root = false,
  libc = "/lib/libc.so.6",
): MachineProbe {
  return {
    exists: (path) => Promise.resolve(files.includes(path)),
    isRoot: () => root,
    which: (name) =>
      Promise.resolve(
        files.includes(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : undefined,
      ),
    libcPath: () => libc,
  };
}

Deno.test("planSources() in auto mode runs what it detects and says why not the rest", async () => {
  const plans = await planSources(
    DEFAULT_OPTIONS,
    probe([
      "/var/run/docker.sock",
      "/run/k3s/containerd/containerd.sock",
      "/proc/net/tcp",
      "/usr/sbin/iptables-save",
    ]),
  );
  const byName = Object.fromEntries(plans.map((p) => [p.name, p]));
  assertEquals(byName.procnet?.run, true);
  assertEquals(byName.docker?.run, true);
  assertEquals(byName.docker?.reason, "socket /var/run/docker.sock exists");
  assertEquals(byName.containerd?.run, true);
  assertEquals(
    byName.containerd?.reason,
    "socket /run/k3s/containerd/containerd.sock exists",
  );
  assertEquals(byName.iptables?.reason, "not running as root");
  assertEquals(
    byName.kubernetes?.reason,
    "no kubeconfig at /etc/rancher/k3s/k3s.yaml",
  );
  const withKubeconfig = await planSources(
    DEFAULT_OPTIONS,
    probe(["/etc/rancher/k3s/k3s.yaml"]),
  );
  const kubernetes = withKubeconfig.find((p) => p.name === "kubernetes")!;
  assertEquals(kubernetes.run, true);
  assertStringIncludes(kubernetes.reason, "/etc/rancher/k3s/k3s.yaml");
});

Deno.test("planSources() honours switches and reports requested but missing sources", async () => {
  const off = await planSources(
    { ...DEFAULT_OPTIONS, procnet: false },
    probe(["/proc/net/tcp"]),
  );
  assertEquals(off.find((p) => p.name === "procnet")?.reason, "switched off");
  const explicit = await planSources(
    {
      ...DEFAULT_OPTIONS,
      mode: "host-switch",
      docker: false,
      containerd: true,
      kubernetes: true,
      procnet: false,
    },
    probe([]),
  );
  // A requested source runs even before its socket exists (it waits).
  const containerd = explicit.find((p) => p.name === "containerd")!;
  assertEquals(containerd.run, true);
  assertEquals(containerd.reason, "enabled by the flags");
  // So does Kubernetes before its kubeconfig exists.
  const kubernetes = explicit.find((p) => p.name === "kubernetes")!;
  assertEquals(kubernetes.run, true);
  const noLibc = await planSources(DEFAULT_OPTIONS, {
    ...probe(["/proc/net/tcp"]),
    libcPath: () => undefined,
  });
  assertEquals(noLibc.find((p) => p.name === "procnet")?.run, false);
});

const iptablesSave = await systemProbe.which("iptables-save");

Deno.test(
  "planSources() detects iptables on this machine as root (real probe)",
  {
    ignore: ignoreUnless(
      "root and iptables-save",
      systemProbe.isRoot() && iptablesSave !== undefined,
    ),
  },
  async () => {
    const plans = await planSources(DEFAULT_OPTIONS, systemProbe);
    assertStringIncludes(
      plans.find((p) => p.name === "iptables")!.reason,
      `running as root and ${iptablesSave} exists`,
    );
  },
);
