import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { bindingKey } from "../../binding/binding.ts";
import {
  certainEntries,
  parseContainerList,
  parseDockerEvent,
  parseDockerInspect,
} from "./parse_docker.ts";

const testdata = new URL("./testdata/", import.meta.url);
const ID = "2aa4a321d3b32a5f927580cce39106437cd04ec3d0ef13a7d4e7e5aa084369a3";

// testdata/ was recorded from a real dockerd 20.10 (docs/testing.md): the events
// of `docker run -d --name web1 -p 127.0.0.1:18080:8080 -p 18081:8081/udp
// -p 18090-18091:9090-9091 …`, `docker stop`, `docker rm`, and its inspect.
Deno.test("parseDockerEvent() reads recorded dockerd event lines", () => {
  const lines = Deno.readTextFileSync(new URL("events.jsonl", testdata)).trim()
    .split("\n");
  const events = lines.map(parseDockerEvent);
  assertEquals(events, [
    { action: "create", id: ID, name: "web1" },
    { action: "start", id: ID, name: "web1" },
    undefined, // kill
    undefined, // kill
    { action: "die", id: ID, name: "web1" },
    { action: "stop", id: ID, name: "web1" },
    { action: "destroy", id: ID, name: "web1" },
  ]);
});

// podman_*.json*: Debian's Podman 4.3.1 serving the Docker API (docs/testing.md),
// the events an `/events` filter with both vocabularies let through for `run
// -p`, `kill`, `rm -f`, a container exiting by itself, `pod create -p`,
// `run --pod`, `pod rm -f`, `rm -f` of an IPv6-only binding; and the inspect
// replies of a pod's infra container and of its member.
Deno.test("parseDockerEvent() reads recorded Podman event lines", () => {
  const lines = Deno.readTextFileSync(new URL("podman_events.jsonl", testdata))
    .trim().split("\n");
  const actions = lines.map((line) => {
    const event = parseDockerEvent(line);
    return event && `${event.action} ${event.name}`;
  });
  assertEquals(actions, [
    "start c1",
    "die c1",
    "remove c1",
    "start c2",
    "die c2",
    "remove c2",
    "start 87ad52ac842b-infra",
    "start p1c",
    "start c6",
    "stop p1c",
    "die p1c",
    "remove p1c",
    "stop 87ad52ac842b-infra",
    "die 87ad52ac842b-infra",
    "remove 87ad52ac842b-infra",
    "die c6",
    "remove c6",
    "start c7",
    "start c98518f3f732-infra",
    "start p2c",
  ]);
  const died = lines[1]!.replace('"Action":"die"', '"Action":"died"');
  assertEquals(parseDockerEvent(died)?.action, "died");
});

Deno.test("parseDockerInspect(): a Podman pod's ports belong to its infra container only", () => {
  const read = (name: string) =>
    parseDockerInspect(
      JSON.parse(Deno.readTextFileSync(new URL(name, testdata))),
    );
  const infra = read("podman_pod_infra_inspect.json");
  assertEquals(infra.entries.map((e) => bindingKey(e.binding)), [
    "tcp/0.0.0.0:18095", // HostIp "": every address
  ]);
  const member = read("podman_pod_member_inspect.json");
  assertEquals(member.entries, []);
  assertEquals(member.sharesNetworkOf, infra.id);
  assertEquals(member.running, true);
});

Deno.test("parseDockerInspect() reads a recorded inspect reply", () => {
  const inspected = parseDockerInspect(
    JSON.parse(Deno.readTextFileSync(new URL("inspect.json", testdata))),
  );
  assertEquals(inspected.name, "web1");
  assertEquals(inspected.running, true);
  assertEquals(inspected.skipped, []);
  assertEquals(
    inspected.entries.map((e) => `${bindingKey(e.binding)}>${e.containerPort}`),
    [
      "tcp/127.0.0.1:18080>8080",
      "udp/0.0.0.0:18081>8081",
      "udp/[::]:18081>8081",
      "tcp/0.0.0.0:18090>9090",
      "tcp/[::]:18090>9090",
      "tcp/0.0.0.0:18091>9091",
      "tcp/[::]:18091>9091",
    ],
  );
  assertEquals(inspected.entries[0]?.containerIps, ["172.17.0.2"]);
  assertEquals(inspected.entries[0]?.ownerId, ID);
  // What its configuration made certain before it ran: each explicit host
  // port once, on its address as given ("" is every IPv4 address; the ::
  // twins come only with the engine's answer).
  assertEquals(
    inspected.certain.map((e) => `${bindingKey(e.binding)}>${e.containerPort}`),
    [
      "tcp/127.0.0.1:18080>8080",
      "udp/0.0.0.0:18081>8081",
      "tcp/0.0.0.0:18090>9090",
      "tcp/0.0.0.0:18091>9091",
    ],
  );
  assertEquals(inspected.certain[0]?.name, "web1");
  assertEquals(inspected.certain[0]?.containerIps, undefined);
});

Deno.test("parseDockerInspect(): a Podman pod's infra container is certain of its ports, a member of none", () => {
  const read = (name: string) =>
    parseDockerInspect(
      JSON.parse(Deno.readTextFileSync(new URL(name, testdata))),
    );
  assertEquals(
    read("podman_pod_infra_inspect.json").certain.map((e) =>
      bindingKey(e.binding)
    ),
    ["tcp/0.0.0.0:18095"],
  );
  assertEquals(read("podman_pod_member_inspect.json").certain, []);
});

Deno.test("certainEntries() leaves to the engine what the configuration does not fix", async (t) => {
  const id = ID;
  const keys = (hostConfig: unknown) =>
    certainEntries(id, "c", hostConfig as Record<string, unknown>).map((e) =>
      bindingKey(e.binding)
    );
  const cases: [string, unknown, string[]][] = [
    ["no HostConfig", undefined, []],
    ["PortBindings null", { PortBindings: null }, []],
    ["PortBindings a list", { PortBindings: [] }, []],
    ["a random host port (empty)", {
      PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "" }] },
    }, []],
    ["a random host port (0)", {
      PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "0" }] },
    }, []],
    ["a host range for one container port", {
      PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "18000-18010" }] },
    }, []],
    ["-P: PublishAllPorts, no bindings", {
      PublishAllPorts: true,
      PortBindings: {},
    }, []],
    ["the host network", {
      NetworkMode: "host",
      PortBindings: { "80/tcp": [{ HostPort: "18000" }] },
    }, []],
    ["another container's network", {
      NetworkMode: "container:abc",
      PortBindings: { "80/tcp": [{ HostPort: "18000" }] },
    }, []],
    ["a port as a number", {
      PortBindings: { "80/tcp": [{ HostPort: 18000 }] },
    }, []],
    ["a port out of range", {
      PortBindings: { "80/tcp": [{ HostPort: "70000" }] },
    }, []],
    ["an unknown protocol", {
      PortBindings: { "80/sctp": [{ HostPort: "18000" }] },
    }, []],
    ["a host IP of the wrong type", {
      PortBindings: { "80/tcp": [{ HostIp: 1, HostPort: "18000" }] },
    }, []],
    ["a bad host IP", {
      PortBindings: { "80/tcp": [{ HostIp: "not-an-ip", HostPort: "18000" }] },
    }, []],
    ["a binding list that is not a list", {
      PortBindings: { "80/tcp": { HostPort: "18000" } },
    }, []],
    ["null items", { PortBindings: { "80/tcp": [null] } }, []],
    ["unknown fields, and the good ones kept", {
      Surprise: { deep: [1, 2] },
      PortBindings: {
        "80/tcp": [{ HostIp: "", HostPort: "18000", Extra: true }, {
          HostPort: "",
        }],
        "53/udp": [{ HostIp: "::", HostPort: "18053" }],
      },
    }, ["tcp/0.0.0.0:18000", "udp/[::]:18053"]],
  ];
  for (const [name, hostConfig, expected] of cases) {
    await t.step(name, () => assertEquals(keys(hostConfig), expected));
  }
});

Deno.test("parseDockerEvent() rejects hostile lines with their first bytes", async (t) => {
  await t.step("not JSON", () => {
    assertThrows(
      () => parseDockerEvent('{"Type":"contai'),
      SyntaxError,
      '{\\"Type\\":\\"contai',
    );
  });
  await t.step("an array", () => {
    assertThrows(() => parseDockerEvent("[1]"), TypeError, "not an object");
  });
  await t.step("no Actor.ID", () => {
    assertThrows(
      () =>
        parseDockerEvent(
          '{"Type":"container","Action":"start","id":"' + ID + '"}',
        ),
      TypeError,
      "no valid Actor.ID",
    );
  });
  await t.step("Actor.ID of the wrong type", () => {
    assertThrows(
      () =>
        parseDockerEvent(
          '{"Type":"container","Action":"die","Actor":{"ID":42}}',
        ),
      TypeError,
    );
  });
  await t.step("a huge line is cut in the message", () => {
    const error = assertThrows(
      () => parseDockerEvent("x".repeat(2_000_000)),
      SyntaxError,
    );
    assertEquals(error.message.length < 300, true);
  });
  await t.step("other types and unknown fields pass quietly", () => {
    assertEquals(
      parseDockerEvent('{"Type":"network","Action":"connect"}'),
      undefined,
    );
    assertEquals(
      parseDockerEvent(
        `{"Type":"container","Action":"start","Actor":{"ID":"${ID}","Attributes":{}},"new":[1]}`,
      ),
      { action: "start", id: ID },
    );
  });
});

Deno.test("parseDockerInspect() skips bad port specs and rejects bad shapes", async (t) => {
  const base = (ports: unknown) => ({
    Id: ID,
    Name: "/web",
    State: { Running: true },
    NetworkSettings: {
      Ports: ports,
      Networks: { bridge: { IPAddress: "172.17.0.3" } },
    },
  });
  await t.step("null and empty bindings are skipped silently", () => {
    const inspected = parseDockerInspect(
      base({ "80/tcp": null, "81/tcp": [] }),
    );
    assertEquals([inspected.entries, inspected.skipped], [[], []]);
  });
  await t.step("bad specs are reported, the rest kept", () => {
    const inspected = parseDockerInspect(base({
      "80/tcp": [{ HostIp: "", HostPort: "8080" }],
      "81/sctp": [{ HostIp: "0.0.0.0", HostPort: "81" }],
      "82/tcp": [{ HostIp: "0.0.0.0", HostPort: 82 }],
      "83/tcp": [{ HostIp: "0.0.0.0", HostPort: "99999" }],
      "84/tcp": [{ HostIp: "not-an-ip", HostPort: "84" }],
      "99999/tcp": [{ HostIp: "0.0.0.0", HostPort: "85" }],
      "bogus": [{}],
      "86/tcp": "wrong type",
    }));
    assertEquals(inspected.entries.map((e) => bindingKey(e.binding)), [
      "tcp/0.0.0.0:8080",
    ]);
    assertEquals(inspected.skipped.length, 7);
  });
  await t.step("wrong shapes throw", () => {
    assertThrows(() => parseDockerInspect(null), TypeError);
    assertThrows(
      () => parseDockerInspect({ Id: "nope" }),
      TypeError,
      "no valid Id",
    );
    assertThrows(
      () => parseDockerInspect({ Id: ID }),
      TypeError,
      "no NetworkSettings",
    );
    assertThrows(
      () => parseDockerInspect(base([1])),
      TypeError,
      "Ports is not an object",
    );
  });
  await t.step("no ports at all", () => {
    assertEquals(parseDockerInspect(base(undefined)).entries, []);
  });
});

Deno.test("parseContainerList() keeps valid ids", () => {
  assertEquals(parseContainerList([{ Id: ID }, { Id: 5 }, null]), [ID]);
  assertThrows(() => parseContainerList({}), TypeError);
});
