import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { bindingKey } from "../../binding/binding.ts";
import { serviceEntries, serviceName } from "./parse_service.ts";

function service(
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default", uid: "uid-1", ...metadata },
    spec,
  };
}

const keys = (s: unknown, address: "0.0.0.0" | "127.0.0.1" = "0.0.0.0") =>
  serviceEntries(s, address).entries.map((e) => bindingKey(e.binding));

Deno.test("serviceEntries() publishes nodePort of NodePort and port of LoadBalancer services", () => {
  const ports = [
    {
      name: "http",
      port: 80,
      targetPort: 8080,
      nodePort: 30080,
      protocol: "TCP",
    },
    { name: "dns", port: 53, targetPort: 53, nodePort: 30053, protocol: "UDP" },
    {
      name: "dns-tcp",
      port: 53,
      targetPort: 53,
      nodePort: 30053,
      protocol: "TCP",
    },
  ];
  assertEquals(keys(service({ type: "NodePort", ports })), [
    "tcp/0.0.0.0:30080",
    "udp/0.0.0.0:30053",
    "tcp/0.0.0.0:30053",
  ]);
  assertEquals(keys(service({ type: "LoadBalancer", ports }), "127.0.0.1"), [
    "tcp/127.0.0.1:80",
    "udp/127.0.0.1:53",
    "tcp/127.0.0.1:53",
  ]);
  const [entry] =
    serviceEntries(service({ type: "NodePort", ports }), "0.0.0.0").entries;
  assertEquals(entry, {
    ownerId: "uid-1",
    binding: { protocol: "tcp", hostIp: "0.0.0.0", hostPort: 30080 },
    name: "default/web",
    namespace: "default",
    containerPort: 8080,
  });
});

Deno.test("serviceEntries() publishes nothing for ClusterIP and ExternalName", () => {
  assertEquals(keys(service({ type: "ClusterIP", ports: [{ port: 80 }] })), []);
  assertEquals(keys(service({ type: "ExternalName", externalName: "x" })), []);
  assertEquals(keys(service({ ports: [{ port: 80 }] })), []);
});

Deno.test("serviceEntries() defaults the protocol to TCP and skips bad ports", () => {
  const result = serviceEntries(
    service({
      type: "NodePort",
      ports: [
        { port: 80, nodePort: 30080 },
        { port: 81, nodePort: 70000 },
        { port: 82, nodePort: "30082" },
        { port: 83, nodePort: 30083, protocol: "SCTP" },
        { port: 84 },
        "80:30080",
        null,
        { port: 85, nodePort: 30085, protocol: 6 },
      ],
    }),
    "0.0.0.0",
  );
  assertEquals(result.entries.map((e) => bindingKey(e.binding)), [
    "tcp/0.0.0.0:30080",
  ]);
  assertEquals(result.skipped.length, 7);
  assert(
    result.skipped[0]!.includes("ports[1]") &&
      result.skipped[0]!.includes("70000"),
  );
  assert(result.skipped[2]!.includes('"SCTP"'));
});

Deno.test("serviceEntries() refuses objects without a uid or spec, naming them", () => {
  assertThrows(
    () =>
      serviceEntries(
        service({ type: "NodePort" }, { uid: undefined }),
        "0.0.0.0",
      ),
    TypeError,
    "service default/web: no metadata.uid",
  );
  assertThrows(
    () =>
      serviceEntries(
        { metadata: { name: "x", namespace: "ns", uid: "u" } },
        "0.0.0.0",
      ),
    TypeError,
    "service ns/x: no spec",
  );
  assertThrows(
    () => serviceEntries(service({ type: "NodePort", ports: "80" }), "0.0.0.0"),
    TypeError,
    "spec.ports is not a list",
  );
  for (
    const hostile of [null, 42, "svc", [], { metadata: [] }, {
      metadata: { uid: 5 },
    }]
  ) {
    assertThrows(() => serviceEntries(hostile, "0.0.0.0"), TypeError);
  }
  assertEquals(serviceName({ metadata: { name: 7 } }), "?/?");
});
