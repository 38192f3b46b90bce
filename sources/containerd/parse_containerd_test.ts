import { Buffer } from "node:buffer";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { decodeHex } from "../../tests/engines/hex.ts";
import { bindingKey } from "../../tracker/binding.ts";
import { CONTAINERD_PACKAGE_DEFINITION } from "./containerd_protos.ts";
import {
  containerOwner,
  type EnvelopeRecord,
  isLiveTask,
  parseContainerdEvent,
  parseNerdctlPortsLabel,
  parseNetworkConfig,
  parsePortMappings,
  portsLocation,
} from "./parse_containerd.ts";

const testdata = new URL("./testdata/", import.meta.url);

const subscribe = (CONTAINERD_PACKAGE_DEFINITION[
  "containerd.services.events.v1.Events"
] as unknown as Record<
  string,
  { responseDeserialize(bytes: Buffer): EnvelopeRecord }
>).Subscribe!;

/** Decodes envelope bytes exactly as the gRPC client does. */
function envelope(bytes: Uint8Array): EnvelopeRecord {
  return subscribe.responseDeserialize(Buffer.from(bytes));
}

function recorded(): EnvelopeRecord[] {
  return Deno.readTextFileSync(new URL("events.hex", testdata)).trim()
    .split("\n").map((line) => envelope(decodeHex(line.split(" ")[1]!)));
}

const OWNER = containerOwner("ga", { id: "web1", labels: {} });

// testdata/events.hex was recorded from a real containerd 1.6 by
// tests/engines/capture_containerd_events.ts: `ctr run` of web1 in
// namespaces ga and other-ns, `ctr task exec --exec-id probe1 web1 true`,
// `ctr container label web1 nerdctl/ports=…`, kill, task rm, container rm.
Deno.test("parseContainerdEvent() decodes envelopes recorded from a real containerd", () => {
  const events = recorded().map(parseContainerdEvent);
  assertEquals(events, [
    { namespace: "ga", containerId: "web1", kind: "created" },
    { namespace: "ga", containerId: "web1", kind: "started" },
    { namespace: "other-ns", containerId: "web1", kind: "created" },
    { namespace: "other-ns", containerId: "web1", kind: "started" },
    {
      namespace: "ga",
      containerId: "web1",
      kind: "exec-exited",
      execId: "probe1",
    },
    { namespace: "ga", containerId: "web1", kind: "updated" },
    { namespace: "ga", containerId: "web1", kind: "stopped" },
    { namespace: "ga", containerId: "web1", kind: "stopped" },
    { namespace: "ga", containerId: "web1", kind: "deleted" },
    { namespace: "other-ns", containerId: "web1", kind: "stopped" },
    { namespace: "other-ns", containerId: "web1", kind: "stopped" },
    { namespace: "other-ns", containerId: "web1", kind: "deleted" },
  ]);
});

Deno.test("parseContainerdEvent() refuses hostile envelopes with a clear error", async (t) => {
  const start = recorded().find((e) => e.topic === "/tasks/start");
  const value = start!.event!.value;
  await t.step("a topic it does not act on is ignored", () => {
    assertEquals(
      parseContainerdEvent({ ...start!, topic: "/snapshot/prepare" }),
      undefined,
    );
  });
  await t.step("truncated payload bytes", () => {
    assertThrows(
      () =>
        parseContainerdEvent({
          ...start!,
          event: { type_url: start!.event!.type_url, value: value.slice(0, 5) },
        }),
      SyntaxError,
      "Cannot decode containerd /tasks/start event in namespace ga",
    );
  });
  await t.step("a payload of another type", () => {
    assertThrows(
      () =>
        parseContainerdEvent({
          ...start!,
          event: { type_url: "containerd.events.TaskOOM", value },
        }),
      TypeError,
      'payload type "containerd.events.TaskOOM", expected containerd.events.TaskStart',
    );
  });
  await t.step("no payload", () => {
    assertThrows(
      () => parseContainerdEvent({ ...start!, event: null }),
      TypeError,
      "payload type",
    );
  });
  await t.step("a namespace that is not an identifier", () => {
    assertThrows(
      () => parseContainerdEvent({ ...start!, namespace: "../etc" }),
      TypeError,
      "namespace",
    );
    assertThrows(
      () => parseContainerdEvent({ ...start!, namespace: "" }),
      TypeError,
      "namespace",
    );
  });
  await t.step("an empty container id", () => {
    assertThrows(
      () =>
        parseContainerdEvent({
          ...start!,
          event: { type_url: start!.event!.type_url, value: new Uint8Array() },
        }),
      TypeError,
      'container id ""',
    );
  });
  await t.step("unknown fields in the payload are skipped", () => {
    // field 15, varint 7: not in TaskStart
    const extended = new Uint8Array([...value, 0x78, 0x07]);
    assertEquals(
      parseContainerdEvent({
        ...start!,
        event: { type_url: start!.event!.type_url, value: extended },
      }),
      { namespace: "ga", containerId: "web1", kind: "started" },
    );
  });
  await t.step("random bytes never crash it", () => {
    for (let i = 0; i < 500; i++) {
      const bytes = crypto.getRandomValues(
        new Uint8Array(Math.floor(Math.random() * 64)),
      );
      try {
        parseContainerdEvent({
          ...start!,
          event: { type_url: start!.event!.type_url, value: bytes },
        });
      } catch (error) {
        assert(
          error instanceof TypeError || error instanceof SyntaxError,
          `unexpected ${error}`,
        );
      }
    }
  });
});

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
    ["not an object", "8080:80", "is not an object"],
    ["null", null, "is not an object"],
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
      'label nerdctl/ports is not JSON: "[{\\"HostPort\\":80"',
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

Deno.test("isLiveTask() keeps ports of running and paused tasks", () => {
  assertEquals(
    ["RUNNING", "PAUSED", "PAUSING", "CREATED", "STOPPED", "UNKNOWN"].map(
      isLiveTask,
    ),
    [true, true, true, false, false, false],
  );
});
