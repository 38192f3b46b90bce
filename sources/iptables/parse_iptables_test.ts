import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { bindingKey } from "../../binding/binding.ts";
import {
  MAX_PORTS_PER_RULE,
  parseNatTable,
  parsePortList,
  splitRuleWords,
} from "./parse_iptables.ts";

const testdata = new URL("./testdata/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, testdata));

function summary(text: string, family: "ipv4" | "ipv6" = "ipv4") {
  const scan = parseNatTable(text, family);
  return {
    keys: scan.entries.map((e) =>
      `${bindingKey(e.binding)}>${e.containerIps?.[0]}:${e.containerPort}`
    ),
    skipped: scan.skipped,
  };
}

// testdata/*.nat were recorded by tests/engines/capture_iptables.ts: a real
// dockerd 20.10 after `docker run -p 18080:8080 -p 127.0.0.1:18081:8080
// -p 18082:53/udp` and `-p 18090-18092:9000-9002`, and Debian's CNI bridge +
// portmap plugins with tcp 18181, udp 18182 and tcp 127.0.0.1:18183.
Deno.test("parseNatTable() reads a real dockerd's DOCKER chain", () => {
  assertEquals(summary(read("docker.nat")), {
    keys: [
      "tcp/127.0.0.1:18081>172.17.0.2:8080",
      "tcp/0.0.0.0:18080>172.17.0.2:8080",
      "udp/0.0.0.0:18082>172.17.0.2:53",
      "tcp/0.0.0.0:18092>172.17.0.3:9002",
      "tcp/0.0.0.0:18091>172.17.0.3:9001",
      "tcp/0.0.0.0:18090>172.17.0.3:9000",
    ],
    skipped: [],
  });
  const [first] = parseNatTable(read("docker.nat"), "ipv4").entries;
  assertEquals(
    first?.ownerId,
    "ipv4 DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 18081 -j DNAT --to-destination 172.17.0.2:8080",
  );
  assertEquals(first?.name, "DOCKER → 172.17.0.2");
});

Deno.test("parseNatTable() reads real CNI portmap chains and names them", () => {
  assertEquals(summary(read("cni.nat")), {
    keys: [
      "tcp/0.0.0.0:18181>10.88.0.2:8080",
      "udp/0.0.0.0:18182>10.88.0.2:53",
      "tcp/127.0.0.1:18183>10.88.0.2:8080",
    ],
    skipped: [],
  });
  assertEquals(
    parseNatTable(read("cni.nat"), "ipv4").entries[0]?.name,
    "ga-net/capture1",
  );
});

// testdata/netavark.nat: Debian's Podman 4.3 with netavark after `podman run
// -p 18070:80 -p 127.0.0.1:18071:81/udp -p 18072-18073:82-83`.
Deno.test("parseNatTable() reads real netavark chains and names them", () => {
  assertEquals(summary(read("netavark.nat")), {
    keys: [
      "tcp/0.0.0.0:18070>10.88.0.6:80",
      "tcp/0.0.0.0:18072>10.88.0.6:undefined",
      "tcp/0.0.0.0:18073>10.88.0.6:undefined",
      "udp/127.0.0.1:18071>10.88.0.6:81",
    ],
    skipped: [],
  });
  assertEquals(
    parseNatTable(read("netavark.nat"), "ipv4").entries[0]?.name,
    "podman/21a385222e69bfef585083226ca4ff3e3a20c702ebf0180fa261e74870ed4803",
  );
});

Deno.test("parseNatTable() reads ip6tables rules, multiport and ranges", () => {
  const text = [
    "*nat",
    ":DOCKER - [0:0]",
    "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00::2]:80",
    "-A DOCKER -d ::1/128 -p udp -m udp --dport 53 -j DNAT --to-destination [fd00::2]:53",
    "-A DOCKER -p tcp -m multiport --dports 81,90:91 -j DNAT --to-destination [fd00::3]",
    "COMMIT",
  ].join("\n");
  assertEquals(summary(text, "ipv6").keys, [
    "tcp/[::]:8080>fd00::2:80",
    "udp/[::1]:53>fd00::2:53",
    "tcp/[::]:81>fd00::3:undefined",
    "tcp/[::]:90>fd00::3:undefined",
    "tcp/[::]:91>fd00::3:undefined",
  ]);
});

Deno.test("parseNatTable() ignores other chains and targets", () => {
  const text = [
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "-A MYCHAIN -p tcp -m tcp --dport 1 -j DNAT --to-destination 1.2.3.4:5",
    "-A DOCKER -i docker0 -j RETURN",
    "-A CNI-DN-abc -s 10.88.0.0/16 -p tcp -m tcp --dport 18181 -j CNI-HOSTPORT-SETMARK",
    "# a comment",
    ":DOCKER - [0:0]",
    "",
  ].join("\n");
  assertEquals(parseNatTable(text, "ipv4"), { entries: [], skipped: [] });
});

Deno.test("parseNatTable() skips hostile DNAT rules with a reason and keeps the rest", async (t) => {
  const good =
    "-A DOCKER -p tcp -m tcp --dport 9999 -j DNAT --to-destination 172.17.0.9:80";
  const cases: [string, string, string][] = [
    [
      "no protocol",
      "-A DOCKER -m tcp --dport 1 -j DNAT --to-destination 1.1.1.1:1",
      "no -p",
    ],
    [
      "no port",
      "-A DOCKER -p tcp -j DNAT --to-destination 1.1.1.1:1",
      "no --dport",
    ],
    [
      "port out of range",
      "-A DOCKER -p tcp -m tcp --dport 70000 -j DNAT --to-destination 1.1.1.1:1",
      "out of range",
    ],
    [
      "port not a number",
      "-A DOCKER -p tcp -m tcp --dport http -j DNAT --to-destination 1.1.1.1:1",
      "not a number",
    ],
    [
      "sctp",
      "-A DOCKER -p sctp -m sctp --dport 5 -j DNAT --to-destination 1.1.1.1:1",
      '"sctp"',
    ],
    [
      "a network destination",
      "-A DOCKER -d 10.0.0.0/8 -p tcp -m tcp --dport 5 -j DNAT --to-destination 1.1.1.1:1",
      "a network, not one address",
    ],
    [
      "an IPv6 destination in the IPv4 table",
      "-A DOCKER -d ::1/128 -p tcp -m tcp --dport 5 -j DNAT --to-destination 1.1.1.1:1",
      "not an ipv4",
    ],
    [
      "garbage target",
      "-A DOCKER -p tcp -m tcp --dport 5 -j DNAT --to-destination banana",
      "--to-destination",
    ],
    [
      "unclosed quote",
      '-A DOCKER -p tcp -m comment --comment "oops --dport 5 -j DNAT',
      "quote",
    ],
    [
      "a huge range",
      "-A DOCKER -p tcp -m tcp --dport 1:65535 -j DNAT --to-destination 1.1.1.1",
      `more than ${MAX_PORTS_PER_RULE}`,
    ],
    [
      "a reversed range",
      "-A DOCKER -p tcp -m tcp --dport 90:80 -j DNAT --to-destination 1.1.1.1",
      "reversed",
    ],
    [
      "an oversized line",
      `-A DOCKER -p tcp --dport 5 -j DNAT ${"x".repeat(5000)}`,
      "longer than",
    ],
  ];
  for (const [what, line, reason] of cases) {
    await t.step(what, () => {
      const result = summary([line, good].join("\n"));
      assertEquals(result.keys, ["tcp/0.0.0.0:9999>172.17.0.9:80"]);
      assertEquals(result.skipped.length, 1);
      assert(
        result.skipped[0]!.includes(reason),
        `${result.skipped[0]} should say ${reason}`,
      );
    });
  }
  await t.step("protocol numbers as iptables -L prints them", () => {
    assertEquals(
      summary(
        "-A DOCKER -p 17 -m udp --dport 53 -j DNAT --to-destination 1.1.1.1:53",
      ).keys,
      ["udp/0.0.0.0:53>1.1.1.1:53"],
    );
  });
  await t.step("a negated destination means every address", () => {
    assertEquals(
      summary(
        "-A DOCKER ! -d 127.0.0.0/8 -p tcp -m tcp --dport 5 -j DNAT --to-destination 1.1.1.1:5",
      ).keys,
      ["tcp/0.0.0.0:5>1.1.1.1:5"],
    );
  });
  await t.step("reordered options and CRLF line ends", () => {
    assertEquals(
      summary(
        "-A DOCKER -j DNAT --to-destination 1.1.1.1:5 --dport 5 -m tcp -p tcp\r\n",
      ).keys,
      ["tcp/0.0.0.0:5>1.1.1.1:5"],
    );
  });
  // Random text: tests/fuzz_test.ts's "iptables-save lines" property.
});

Deno.test("parseNatTable() handles 10,000 rules", () => {
  const lines = Array.from(
    { length: 10_000 },
    (_, i) =>
      `-A DOCKER -p tcp -m tcp --dport ${
        1 + i
      } -j DNAT --to-destination 172.17.${i >> 8}.${i & 255}:80`,
  );
  assertEquals(parseNatTable(lines.join("\n"), "ipv4").entries.length, 10_000);
});

Deno.test("splitRuleWords() follows iptables-save quoting", () => {
  assertEquals(
    splitRuleWords(
      '-A X -m comment --comment "dnat name: \\"n\\" id: \\"c\\"" -j Y',
    ),
    [
      "-A",
      "X",
      "-m",
      "comment",
      "--comment",
      'dnat name: "n" id: "c"',
      "-j",
      "Y",
    ],
  );
  assertThrows(() => splitRuleWords('-A "x'), SyntaxError, "quote");
});

Deno.test("parsePortList() reads ports, ranges and lists", () => {
  assertEquals(parsePortList("80"), [80]);
  assertEquals(parsePortList("80,443,8000:8002"), [80, 443, 8000, 8001, 8002]);
  assertThrows(() => parsePortList("0"), RangeError, "out of range");
  assertThrows(() => parsePortList("1:2:3"), RangeError, "malformed");
});
