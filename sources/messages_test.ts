import { assertEquals, assertThrows } from "../tests/assert.ts";
import {
  MAX_COUNTERS,
  MAX_ENTRIES,
  parseControlMessage,
  parseSourceMessage,
} from "./messages.ts";
import { MAX_LOG_PROPERTIES, MAX_LOG_VALUE_LENGTH } from "./source_log.ts";

const good = {
  ownerId: "c1",
  binding: { protocol: "TCP", hostIp: "[::]", hostPort: 8080 },
  containerPort: 80,
  containerIps: ["172.17.0.2"],
  name: "web",
};

Deno.test("parseSourceMessage() normalises a valid snapshot", () => {
  const message = parseSourceMessage({
    v: 1,
    type: "snapshot",
    entries: [{ ...good, extra: "ignored" }],
  });
  assertEquals(message, {
    v: 1,
    type: "snapshot",
    entries: [{
      ownerId: "c1",
      binding: { protocol: "tcp", hostIp: "::", hostPort: 8080 },
      containerPort: 80,
      containerIps: ["172.17.0.2"],
      name: "web",
    }],
  });
});

Deno.test("parseSourceMessage() accepts each message type", () => {
  assertEquals(parseSourceMessage({ v: 1, type: "remove", ownerId: "x" }), {
    v: 1,
    type: "remove",
    ownerId: "x",
  });
  assertEquals(
    parseSourceMessage({ v: 1, type: "status", state: "waiting", reason: "r" }),
    { v: 1, type: "status", state: "waiting", reason: "r" },
  );
  assertEquals(parseSourceMessage({ v: 1, type: "error", message: "boom" }), {
    v: 1,
    type: "error",
    message: "boom",
  });
  assertEquals(
    parseSourceMessage({ v: 1, type: "upsert", ownerId: "c1", entries: [good] })
      .type,
    "upsert",
  );
  assertEquals(
    parseSourceMessage({ v: 1, type: "remove", ownerId: "x", observedAt: 1.5 }),
    { v: 1, type: "remove", ownerId: "x", observedAt: 1.5 },
  );
  assertEquals(
    parseSourceMessage({
      v: 1,
      type: "remove",
      ownerId: "x",
      stages: { seen: 1.5, posted: 2 },
    }),
    { v: 1, type: "remove", ownerId: "x", stages: { seen: 1.5, posted: 2 } },
  );
  assertEquals(
    parseSourceMessage({
      v: 1,
      type: "counters",
      counters: { mispredictions: 3 },
    }),
    { v: 1, type: "counters", counters: { mispredictions: 3 } },
  );
});

Deno.test("parseSourceMessage() accepts a log record, a __proto__ key kept as a key", () => {
  const properties = JSON.parse(
    '{"id":"c1","count":3,"ok":true,"none":null,"__proto__":"p"}',
  );
  const message = parseSourceMessage({
    v: 1,
    type: "log",
    level: "warning",
    message: "docker: {id} skipped",
    properties,
    unknownField: "ignored",
  });
  assertEquals(message, {
    v: 1,
    type: "log",
    level: "warning",
    message: "docker: {id} skipped",
    properties,
  });
  if (message.type !== "log") throw new Error("not a log record");
  assertEquals(Object.keys(message.properties).includes("__proto__"), true);
  assertEquals(Object.getPrototypeOf(message.properties), Object.prototype);
});

Deno.test("parseSourceMessage() rejects hostile messages with a reason", async (t) => {
  const cases: [string, unknown, string][] = [
    ["null", null, "message: got null"],
    ["a string", "snapshot", "expected an object"],
    ["no version", { type: "snapshot", entries: [] }, "message.v"],
    ["other version", { v: 2, type: "snapshot", entries: [] }, "version 1"],
    ["unknown type", { v: 1, type: "explode" }, "message.type"],
    ["entries not array", { v: 1, type: "snapshot", entries: {} }, "entries"],
    [
      "too many entries",
      {
        v: 1,
        type: "snapshot",
        entries: new Array(MAX_ENTRIES + 1).fill(good),
      },
      "at most",
    ],
    [
      "port as string",
      {
        v: 1,
        type: "snapshot",
        entries: [{ ...good, binding: { ...good.binding, hostPort: "80" } }],
      },
      "entries[0]: Cannot accept entry.binding.hostPort",
    ],
    [
      "port out of range",
      {
        v: 1,
        type: "snapshot",
        entries: [{ ...good, binding: { ...good.binding, hostPort: 70000 } }],
      },
      "hostPort",
    ],
    [
      "bad protocol",
      {
        v: 1,
        type: "snapshot",
        entries: [{ ...good, binding: { ...good.binding, protocol: "sctp" } }],
      },
      "tcp and udp",
    ],
    [
      "bad address",
      {
        v: 1,
        type: "snapshot",
        entries: [{ ...good, binding: { ...good.binding, hostIp: "evil" } }],
      },
      "not an IPv4 or IPv6 address",
    ],
    [
      "empty owner",
      { v: 1, type: "snapshot", entries: [{ ...good, ownerId: "" }] },
      "entry.ownerId",
    ],
    [
      "huge owner",
      { v: 1, type: "remove", ownerId: "x".repeat(100_000) },
      "1 to 512",
    ],
    [
      "foreign owner in upsert",
      { v: 1, type: "upsert", ownerId: "c2", entries: [good] },
      "upsert entry owner",
    ],
    ["bad state", { v: 1, type: "status", state: "happy" }, "message.state"],
    [
      "observedAt as text",
      { v: 1, type: "remove", ownerId: "x", observedAt: "now" },
      "message.observedAt",
    ],
    [
      "observedAt not finite",
      { v: 1, type: "upsert", ownerId: "c1", entries: [], observedAt: NaN },
      "a finite number",
    ],
    [
      "stages not an object",
      { v: 1, type: "remove", ownerId: "x", stages: [1, 2] },
      "message.stages",
    ],
    [
      "a stage stamp as text",
      { v: 1, type: "remove", ownerId: "x", stages: { seen: "now" } },
      "message.stages.seen",
    ],
    [
      "a stage stamp not finite",
      {
        v: 1,
        type: "upsert",
        ownerId: "c1",
        entries: [],
        stages: { a: 1 / 0 },
      },
      "a finite number",
    ],
    [
      "too many stage stamps",
      {
        v: 1,
        type: "remove",
        ownerId: "x",
        stages: Object.fromEntries(
          Array.from({ length: 17 }, (_, i) => [`s${i}`, i]),
        ),
      },
      "at most 16 stamps",
    ],
    [
      "a stage name too long",
      { v: 1, type: "remove", ownerId: "x", stages: { ["n".repeat(41)]: 1 } },
      "1 to 40 characters",
    ],
    [
      "ips not array",
      {
        v: 1,
        type: "snapshot",
        entries: [{ ...good, containerIps: "1.2.3.4" }],
      },
      "containerIps",
    ],
    [
      "container port float",
      { v: 1, type: "snapshot", entries: [{ ...good, containerPort: 1.5 }] },
      "containerPort",
    ],
    [
      "log level unknown",
      { v: 1, type: "log", level: "panic", message: "m", properties: {} },
      "message.level",
    ],
    [
      "log without message",
      { v: 1, type: "log", level: "info", properties: {} },
      "message.message",
    ],
    [
      "log properties not an object",
      { v: 1, type: "log", level: "info", message: "m", properties: [1] },
      "message.properties",
    ],
    [
      "log property an object",
      {
        v: 1,
        type: "log",
        level: "info",
        message: "m",
        properties: { error: { nested: true } },
      },
      "message.properties.error",
    ],
    [
      "log property not finite",
      {
        v: 1,
        type: "log",
        level: "info",
        message: "m",
        properties: { n: NaN },
      },
      "message.properties.n",
    ],
    [
      "log property oversized",
      {
        v: 1,
        type: "log",
        level: "error",
        message: "m",
        properties: { stack: "x".repeat(MAX_LOG_VALUE_LENGTH + 2) },
      },
      "at most 16384 characters",
    ],
    [
      "too many log properties",
      {
        v: 1,
        type: "log",
        level: "info",
        message: "m",
        properties: Object.fromEntries(
          Array.from(
            { length: MAX_LOG_PROPERTIES + 1 },
            (_, i) => [`p${i}`, i],
          ),
        ),
      },
      `at most ${MAX_LOG_PROPERTIES} properties`,
    ],
    [
      "counters not an object",
      { v: 1, type: "counters", counters: [1] },
      "message.counters",
    ],
    [
      "a negative counter",
      { v: 1, type: "counters", counters: { mispredictions: -1 } },
      "counter mispredictions",
    ],
    [
      "a fractional counter",
      { v: 1, type: "counters", counters: { mispredictions: 0.5 } },
      "a whole number",
    ],
    [
      "a counter as a string",
      { v: 1, type: "counters", counters: { mispredictions: "0" } },
      "a whole number",
    ],
    [
      "a counter name with spaces",
      { v: 1, type: "counters", counters: { "rm -rf": 1 } },
      "counter name",
    ],
    [
      "too many counters",
      {
        v: 1,
        type: "counters",
        counters: Object.fromEntries(
          Array.from({ length: MAX_COUNTERS + 1 }, (_, i) => [`c${i}`, i]),
        ),
      },
      `at most ${MAX_COUNTERS} counters`,
    ],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => {
      assertThrows(() => parseSourceMessage(input), TypeError, expected);
    });
  }
});

Deno.test("parseControlMessage() reads start and stop", () => {
  assertEquals(parseControlMessage({ v: 1, type: "stop" }), {
    v: 1,
    type: "stop",
  });
  assertEquals(
    parseControlMessage({ v: 1, type: "start", config: { a: 1 }, debug: true }),
    { v: 1, type: "start", config: { a: 1 }, debug: true },
  );
  // Only `profile: true` turns stage stamps on.
  for (const [profile, kept] of [[true, true], ["yes", false]] as const) {
    const start = { v: 1, type: "start", config: {}, debug: false } as const;
    assertEquals(
      parseControlMessage({ ...start, profile }),
      kept ? { ...start, profile: true } : start,
    );
  }
  assertThrows(
    () => parseControlMessage({ v: 1, type: "start", config: null }),
    TypeError,
    "config",
  );
});
