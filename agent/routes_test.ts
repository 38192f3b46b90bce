import { assertEquals } from "../tests/assert.ts";
import { makeBinding } from "../binding/binding.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import { routeBinding } from "./routes.ts";

function held(hostIp: string, ...sources: string[]): TrackedBinding {
  const binding = makeBinding("tcp", hostIp, 8080);
  return {
    key: "k",
    binding,
    holders: sources.map((source) => ({
      source,
      entry: { ownerId: source, binding },
    })),
  };
}

Deno.test("routeBinding() follows the Go agent's mode table", async (t) => {
  const cases: [
    Parameters<typeof routeBinding>[0],
    TrackedBinding,
    string[],
  ][] = [
    ["auto", held("0.0.0.0", "docker", "iptables"), ["log"]],
    ["privileged", held("0.0.0.0", "docker"), ["privileged-service"]],
    // An engine's binding never goes to the listeners as well.
    ["privileged", held("0.0.0.0", "containerd"), ["privileged-service"]],
    ["privileged", held("0.0.0.0", "kubernetes"), ["privileged-service"]],
    ["privileged", held("0.0.0.0", "iptables"), ["listeners"]],
    ["privileged", held("0.0.0.0", "docker", "iptables"), [
      "privileged-service",
    ]],
    ["privileged", held("0.0.0.0", "kubernetes", "iptables"), [
      "privileged-service",
      "listeners",
    ]],
    // The WSL proxy gets what host-switch gets (Rancher Desktop's agent).
    ["host-switch", held("0.0.0.0", "docker", "iptables"), [
      "host-switch",
      "wsl-proxy",
    ]],
    ["listeners", held("0.0.0.0", "docker", "iptables"), ["listeners"]],
    ["host-switch", held("0.0.0.0", "docker"), ["host-switch", "wsl-proxy"]],
    ["host-switch", held("127.0.0.1", "docker"), [
      "host-switch",
      "wsl-proxy",
      "dnat",
    ]],
    ["host-switch", held("127.0.0.1", "kubernetes"), [
      "host-switch",
      "wsl-proxy",
    ]],
    ["host-switch", held("0.0.0.0", "procnet"), ["host-switch", "wsl-proxy"]],
    // A VM listener on loopback (or IPv6 wildcard) needs the relay too...
    ["host-switch", held("127.0.0.1", "procnet"), [
      "host-switch",
      "wsl-proxy",
      "loopback-relay",
    ]],
    ["host-switch", held("::1", "procnet"), [
      "host-switch",
      "wsl-proxy",
      "loopback-relay",
    ]],
    ["host-switch", held("::", "procnet"), [
      "host-switch",
      "wsl-proxy",
      "loopback-relay",
    ]],
    // ...but never where an engine serves the port.
    ["host-switch", held("127.0.0.1", "docker", "procnet"), [
      "host-switch",
      "wsl-proxy",
      "dnat",
    ]],
    ["privileged", held("127.0.0.1", "procnet"), ["privileged-service"]],
    // The agent's own Kubernetes API binding: the WSL proxy only.
    ["host-switch", held("127.0.0.1", "agent"), ["wsl-proxy"]],
    ["privileged", held("127.0.0.1", "agent"), ["privileged-service"]],
    ["host-switch", held("0.0.0.0", "iptables"), ["listeners"]],
    ["listeners", held("0.0.0.0", "iptables", "kubernetes"), ["listeners"]],
    ["listeners", held("0.0.0.0", "procnet"), []],
  ];
  for (const [mode, binding, expected] of cases) {
    const name = `${mode}: ${binding.binding.hostIp} ${
      binding.holders.map((h) => h.source).join("+")
    }`;
    await t.step(
      name,
      () => assertEquals(routeBinding(mode, binding), expected),
    );
  }
});
