import { tracked as trackedBinding } from "../../tests/tracked.ts";
import { assertEquals } from "../../tests/assert.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { interfaceConnectAddrs, portMappingLine } from "./port_mapping.ts";

const tracked = (
  protocol: "tcp" | "udp",
  hostIp: string,
  hostPort: number,
  containerPort?: number,
): TrackedBinding =>
  trackedBinding(protocol, hostIp, hostPort, {
    ...containerPort ? { containerPort } : {},
  });

const ETH0 = [{ network: "ip+net" as const, addr: "172.26.1.2/20" }];

// Golden lines: byte for byte what the Go agent's json.Marshal of
// types.PortMapping{Remove, Ports nat.PortMap, ConnectAddrs} writes, plus "\n".
Deno.test("portMappingLine() writes the Go agent's bytes", async (t) => {
  await t.step("tcp add", () => {
    assertEquals(
      portMappingLine(tracked("tcp", "0.0.0.0", 8080, 80), false, ETH0),
      '{"remove":false,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},' +
        '"connectAddrs":[{"network":"ip+net","addr":"172.26.1.2/20"}]}\n',
    );
  });
  await t.step("udp remove on IPv6", () => {
    assertEquals(
      portMappingLine(tracked("udp", "::", 5353, 53), true, ETH0),
      '{"remove":true,"ports":{"53/udp":[{"HostIp":"::","HostPort":"5353"}]},' +
        '"connectAddrs":[{"network":"ip+net","addr":"172.26.1.2/20"}]}\n',
    );
  });
  await t.step("wsl-proxy: connectAddrs null", () => {
    assertEquals(
      portMappingLine(tracked("tcp", "127.0.0.1", 6443), false, null),
      '{"remove":false,"ports":{"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"6443"}]},"connectAddrs":null}\n',
    );
  });
  await t.step("no address yet: an empty list", () => {
    assertEquals(
      portMappingLine(tracked("tcp", "0.0.0.0", 1, 2), false, []),
      '{"remove":false,"ports":{"2/tcp":[{"HostIp":"0.0.0.0","HostPort":"1"}]},"connectAddrs":[]}\n',
    );
  });
});

Deno.test("interfaceConnectAddrs() keeps the named interface's addresses in order", () => {
  const info = (name: string, cidr: string, family: "IPv4" | "IPv6") => ({
    name,
    family,
    address: cidr.split("/")[0]!,
    netmask: "",
    scopeid: null,
    cidr,
    mac: "00:15:5d:00:00:01",
  });
  assertEquals(
    interfaceConnectAddrs([
      info("lo", "127.0.0.1/8", "IPv4"),
      info("eth0", "172.26.1.2/20", "IPv4"),
      info("eth0", "fe80::215:5dff:fe00:1/64", "IPv6"),
    ], "eth0"),
    [
      { network: "ip+net", addr: "172.26.1.2/20" },
      { network: "ip+net", addr: "fe80::215:5dff:fe00:1/64" },
    ],
  );
  assertEquals(interfaceConnectAddrs([], "eth0"), []);
});
