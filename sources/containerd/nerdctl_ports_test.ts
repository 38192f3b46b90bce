import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { bindingKey } from "../../binding/binding.ts";
import {
  containerOwner,
  parseNerdctlPortsLabel,
  parseNetworkConfig,
  parsePortMappings,
  portsLocation,
} from "./nerdctl_ports.ts";

const OWNER = containerOwner("ga", { id: "web1", labels: {} });

Deno.test("parseNerdctlPortsLabel() reads nerdctl's label", () => {
  const ports = parseNerdctlPortsLabel(
    JSON.stringify([
      { HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0" },
      { HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "::" },
      {
        HostPort: 5353,
        ContainerPort: 53,
        Protocol: "udp",
        HostIP: "127.0.0.1",
      },
      { HostPort: 9000, ContainerPort: 9000, Protocol: "TCP", HostIP: "" },
      { HostPort: 9001, ContainerPort: 9001, Protocol: "tcp" },
    ]),
    OWNER,
  );
  assertEquals(ports.skipped, []);
  assertEquals(
    ports.entries.map((e) => `${bindingKey(e.binding)}>${e.containerPort}`),
    [
      "tcp/0.0.0.0:8080>80",
      "tcp/[::]:8080>80",
      "udp/127.0.0.1:5353>53",
      "tcp/0.0.0.0:9000>9000",
      "tcp/0.0.0.0:9001>9001",
    ],
  );
  assertEquals(ports.entries[0], {
    ownerId: "ga/web1",
    binding: { protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 },
    name: "web1",
    namespace: "ga",
    containerPort: 80,
  });
});

Deno.test("parseNerdctlPortsLabel() skips bad mappings and keeps the rest", async (t) => {
  const good = { HostPort: 8080, ContainerPort: 80, Protocol: "tcp" };
  const cases: [string, unknown, string][] = [
    ["port out of range", { ...good, HostPort: 70000 }, "70000"],
    ["port zero", { ...good, HostPort: 0 }, "Cannot use host port 0"],
    ["fractional port", { ...good, HostPort: 80.5 }, "80.5"],
    ["port as text", { ...good, HostPort: "8080" }, 'HostPort "8080"'],
    ["unknown protocol", { ...good, Protocol: "sctp" }, '"sctp"'],
    ["protocol of the wrong type", { ...good, Protocol: 6 }, "Protocol"],
    ["bad address", { ...good, HostIP: "999.1.1.1" }, "999.1.1.1"],
    ["address of the wrong type", { ...good, HostIP: 1 }, "HostIP"],
    ["not an object", "8080:80", ": not an object"],
    ["null", null, ": not an object"],
  ];
  for (const [what, mapping, reason] of cases) {
    await t.step(what, () => {
      const ports = parseNerdctlPortsLabel(
        JSON.stringify([mapping, { ...good, HostPort: 9090 }]),
        OWNER,
      );
      assertEquals(
        ports.entries.map((e) => bindingKey(e.binding)),
        ["tcp/0.0.0.0:9090"],
      );
      assertEquals(ports.skipped.length, 1);
      assert(
        ports.skipped[0]!.startsWith("mapping 0: ") &&
          ports.skipped[0]!.includes(reason),
        `${ports.skipped[0]} should name ${reason}`,
      );
    });
  }
  await t.step("unknown fields are ignored", () => {
    const ports = parseNerdctlPortsLabel(
      JSON.stringify([{ ...good, Extra: { deep: [1] } }]),
      OWNER,
    );
    assertEquals(ports.entries.length, 1);
  });
  await t.step("a container port out of range keeps the binding", () => {
    const ports = parseNerdctlPortsLabel(
      JSON.stringify([{ ...good, ContainerPort: -1 }]),
      OWNER,
    );
    assertEquals(ports.entries[0]?.containerPort, undefined);
  });
  await t.step("duplicates count once", () => {
    const ports = parseNerdctlPortsLabel(JSON.stringify([good, good]), OWNER);
    assertEquals(ports.entries.length, 1);
  });
});

Deno.test("parseNerdctlPortsLabel() refuses a label that is not a list of mappings", async (t) => {
  await t.step("not JSON", () => {
    assertThrows(
      () => parseNerdctlPortsLabel('[{"HostPort":80', OWNER),
      SyntaxError,
      'Cannot read label nerdctl/ports: not JSON: "[{\\"HostPort\\":80"',
    );
  });
  await t.step("an object", () => {
    assertThrows(
      () => parseNerdctlPortsLabel('{"HostPort":80}', OWNER),
      TypeError,
      "not a list",
    );
  });
  await t.step("oversized", () => {
    assertThrows(
      () => parseNerdctlPortsLabel(`[${" ".repeat(2 << 20)}]`, OWNER),
      TypeError,
      "more than the 1048576 accepted",
    );
  });
  await t.step("too many mappings", () => {
    assertThrows(
      () => parsePortMappings(new Array(70_000).fill(0), OWNER),
      TypeError,
      "70000 port mappings",
    );
  });
});

Deno.test("parseNetworkConfig() reads nerdctl's network-config.json", async (t) => {
  await t.step("portMappings", () => {
    const ports = parseNetworkConfig(
      JSON.stringify({
        networks: ["bridge"],
        portMappings: [
          {
            HostPort: 18080,
            ContainerPort: 80,
            Protocol: "tcp",
            HostIP: "0.0.0.0",
          },
        ],
      }),
      OWNER,
    );
    assertEquals(ports.entries.map((e) => bindingKey(e.binding)), [
      "tcp/0.0.0.0:18080",
    ]);
  });
  await t.step("no portMappings publishes nothing", () => {
    assertEquals(parseNetworkConfig("{}", OWNER), { entries: [], skipped: [] });
    assertEquals(parseNetworkConfig('{"portMappings":null}', OWNER), {
      entries: [],
      skipped: [],
    });
  });
  await t.step("hostile files", () => {
    assertThrows(() => parseNetworkConfig("", OWNER), SyntaxError, "not JSON");
    assertThrows(
      () => parseNetworkConfig("[]", OWNER),
      TypeError,
      "not an object",
    );
    assertThrows(
      () => parseNetworkConfig('{"portMappings":"80"}', OWNER),
      TypeError,
      "not a list",
    );
  });
});

Deno.test("portsLocation() prefers the label, then the state dir", () => {
  assertEquals(
    portsLocation({ "nerdctl/ports": "[]", "nerdctl/state-dir": "/s" }),
    {
      kind: "label",
      text: "[]",
    },
  );
  assertEquals(portsLocation({ "nerdctl/state-dir": "/s" }), {
    kind: "state-dir",
    dir: "/s",
  });
  assertEquals(portsLocation({ other: "x" }), { kind: "none" });
});

Deno.test("containerOwner() keys by namespace and id, names by nerdctl/name", () => {
  assertEquals(
    containerOwner("k8s.io", { id: "abc", labels: { "nerdctl/name": "web" } }),
    { ownerId: "k8s.io/abc", namespace: "k8s.io", id: "abc", name: "web" },
  );
  assertEquals(containerOwner("ga", { id: "abc", labels: {} }).name, "abc");
});
