import { assert, assertEquals } from "../../tests/assert.ts";
import { canCreateNamespaces, createTestNamespace } from "../../tests/netns.ts";
import { commandSucceeds, ignoreUnless } from "../../tests/requirements.ts";
import { tracked } from "../../tests/tracked.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { DNAT_CHAIN, dnatRuleArgs, dnatTarget } from "./dnat_rules.ts";
import { DnatForwarder } from "./dnat_forwarder.ts";

const held = (
  source: string,
  hostIp: string,
  ips?: string[],
  containerPort?: number,
): TrackedBinding =>
  tracked("tcp", hostIp, 18080, {
    source,
    ...ips ? { containerIps: ips } : {},
    ...containerPort ? { containerPort } : {},
  });

Deno.test("dnatTarget() picks loopback engine bindings with an IPv4 container address", () => {
  assertEquals(
    dnatTarget(held("docker", "127.0.0.1", ["fd00::2", "172.17.0.2"], 8080)),
    {
      protocol: "tcp",
      hostPort: 18080,
      containerIp: "172.17.0.2",
      containerPort: 8080,
    },
  );
  assertEquals(
    dnatTarget(held("docker", "0.0.0.0", ["172.17.0.2"], 8080)),
    undefined,
  );
  assertEquals(
    dnatTarget(held("iptables", "127.0.0.1", ["172.17.0.2"], 8080)),
    undefined,
  );
  assertEquals(
    dnatTarget(held("containerd", "127.0.0.1", [], 8080)),
    undefined,
  );
  assertEquals(
    dnatTarget(held("docker", "127.0.0.1", ["172.17.0.2"])),
    undefined,
  );
});

Deno.test("dnatRuleArgs() matches any destination", () => {
  assertEquals(
    dnatRuleArgs({
      protocol: "udp",
      hostPort: 53,
      containerIp: "10.88.0.2",
      containerPort: 5353,
    }),
    [
      "-p",
      "udp",
      "-m",
      "udp",
      "--dport",
      "53",
      "-j",
      "DNAT",
      "--to-destination",
      "10.88.0.2:5353",
    ],
  );
});

Deno.test("DnatForwarder adds and deletes real rules in a network namespace", {
  ignore: ignoreUnless(
    "root, ip netns and iptables",
    await canCreateNamespaces() && await commandSucceeds("iptables", ["-V"]),
  ),
}, async () => {
  const ns = await createTestNamespace("ga-dnat");
  try {
    const forwarder = new DnatForwarder({
      iptables: [...ns.enter, "iptables"],
    });
    const nat = async () =>
      (await ns.run(["iptables-save", "-t", "nat"])).stdout;
    const binding = held("docker", "127.0.0.1", ["172.17.0.2"], 8080);
    await forwarder.add(binding);
    await forwarder.add(binding); // idempotent
    const rules = await nat();
    const rule =
      `-A ${DNAT_CHAIN} -p tcp -m tcp --dport 18080 -j DNAT --to-destination 172.17.0.2:8080`;
    assertEquals(
      rules.split("\n").filter((line) => line === rule).length,
      1,
      rules,
    );
    assert(
      rules.includes(
        `-A PREROUTING -m addrtype --dst-type LOCAL -j ${DNAT_CHAIN}`,
      ),
      rules,
    );

    await forwarder.remove(binding);
    await forwarder.remove(binding); // idempotent
    assert(!(await nat()).includes("--to-destination 172.17.0.2:8080"));
    await forwarder.add(held("docker", "127.0.0.1", ["172.17.0.3"], 9090));
    await forwarder.close();
    const after = await nat();
    assert(!after.includes(DNAT_CHAIN), `chain left behind:\n${after}`);
  } finally {
    await ns.delete();
  }
});

Deno.test("dnatTarget() follows the engines it is given, not fixed source names", () => {
  const binding = held("podman-like", "127.0.0.1", ["10.88.0.2"], 8080);
  assertEquals(dnatTarget(binding), undefined);
  assertEquals(dnatTarget(binding, new Set(["podman-like"])), {
    protocol: "tcp",
    hostPort: 18080,
    containerIp: "10.88.0.2",
    containerPort: 8080,
  });
});
