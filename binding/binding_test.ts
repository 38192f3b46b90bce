import { assertEquals, assertThrows } from "../tests/assert.ts";
import { bindingKey, makeBinding } from "./binding.ts";
import { isIpv6, normaliseHostIp } from "./ip.ts";

Deno.test("normaliseHostIp() maps the empty address to 0.0.0.0", () => {
  assertEquals(normaliseHostIp(""), "0.0.0.0");
});

Deno.test("normaliseHostIp() writes IPv6 in RFC 5952 form", async (t) => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["[::1]", "::1"],
    ["FE80:0:0:0:0:0:0:1", "fe80::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::ffff:127.0.0.1", "::ffff:7f00:1"],
  ];
  for (const [input, expected] of cases) {
    await t.step(input, () => assertEquals(normaliseHostIp(input), expected));
  }
});

Deno.test("normaliseHostIp() rejects what is not an address", async (t) => {
  for (
    const input of [
      "localhost",
      "256.0.0.1",
      "1.2.3",
      "01.2.3.4x",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "x".repeat(10_000),
    ]
  ) {
    await t.step(input.slice(0, 20), () => {
      assertThrows(() => normaliseHostIp(input), TypeError, "host address");
    });
  }
});

Deno.test("isIpv6() accepts full and compressed forms only", () => {
  assertEquals(isIpv6("1:2:3:4:5:6:7:8"), true);
  assertEquals(isIpv6("1:2:3:4:5:6:7::8"), false);
  assertEquals(isIpv6("1.2.3.4"), false);
});

Deno.test("makeBinding() checks protocol and port", () => {
  assertEquals(makeBinding("TCP", "", 80), {
    protocol: "tcp",
    hostIp: "0.0.0.0",
    hostPort: 80,
  });
  assertThrows(() => makeBinding("sctp", "", 80), TypeError, "tcp and udp");
  assertThrows(() => makeBinding("tcp", "", 0), RangeError, "1 to 65535");
  assertThrows(() => makeBinding("tcp", "", 65536), RangeError);
  assertThrows(() => makeBinding("tcp", "", 1.5), RangeError);
});

Deno.test("bindingKey() brackets IPv6 addresses", () => {
  assertEquals(bindingKey(makeBinding("udp", "::", 53)), "udp/[::]:53");
  assertEquals(
    bindingKey(makeBinding("tcp", "127.0.0.1", 8080)),
    "tcp/127.0.0.1:8080",
  );
});
