import { assert, assertEquals } from "../tests/assert.ts";
import {
  type LogProperties,
  MAX_LOG_PROPERTIES,
  MAX_LOG_VALUE_LENGTH,
  renderLogMessage,
  setSourceLogSink,
  sourceLogger,
  type SourceLogLevel,
  toLogProperties,
  toLogValue,
} from "./source_log.ts";
import { parseSourceMessage } from "./messages.ts";

Deno.test("toLogValue() turns any value into plain data", () => {
  const error = new Error("boom");
  assertEquals(toLogValue(error), error.stack);
  assertEquals(toLogValue("text"), "text");
  assertEquals(toLogValue(7), 7);
  assertEquals(toLogValue(NaN), "NaN");
  assertEquals(toLogValue(-Infinity), "-Infinity");
  assertEquals(toLogValue(false), false);
  assertEquals(toLogValue(null), null);
  assertEquals(toLogValue(undefined), "undefined");
  assertEquals(toLogValue(10n), "10");
  assertEquals(toLogValue({ a: [1, "b"] }), '{"a":[1,"b"]}');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assertEquals(toLogValue(circular), "[object Object]");
  const long = toLogValue("x".repeat(MAX_LOG_VALUE_LENGTH * 2));
  assertEquals(
    typeof long === "string" && long.length,
    MAX_LOG_VALUE_LENGTH + 1,
  );
});

Deno.test("toLogProperties() keeps the first properties, __proto__ as a key", () => {
  const many = Object.fromEntries(
    Array.from({ length: MAX_LOG_PROPERTIES + 5 }, (_, i) => [`p${i}`, i]),
  );
  assertEquals(Object.keys(toLogProperties(many)).length, MAX_LOG_PROPERTIES);
  const hostile = toLogProperties(JSON.parse('{"__proto__":{"x":1}}'));
  assertEquals(Object.keys(hostile), ["__proto__"]);
  assertEquals(Object.getPrototypeOf(hostile), Object.prototype);
  assertEquals(toLogProperties(), {});
});

Deno.test("renderLogMessage() fills known placeholders and leaves others", () => {
  assertEquals(
    renderLogMessage("docker: {id} ({name}) {missing} {}", {
      id: "c1",
      name: null,
    }),
    "docker: c1 (null) {missing} {}",
  );
});

Deno.test("sourceLogger() writes to the sink set later, records the main thread's guard accepts", () => {
  const records: [SourceLogLevel, string, string, LogProperties][] = [];
  const logger = sourceLogger("docker"); // made before the sink is set
  setSourceLogSink((...record) => records.push(record));
  try {
    logger.debug("d");
    logger.info("connected to {socket}", { socket: "/run/docker.sock" });
    logger.warn("w {n}", { n: 1 });
    logger.error("cannot read {id}: {error}", {
      id: "c1",
      error: new TypeError("bad"),
    });
  } finally {
    setSourceLogSink(undefined);
  }
  assertEquals(records.map(([level]) => level), [
    "debug",
    "info",
    "warning",
    "error",
  ]);
  assert(records.every(([, source]) => source === "docker"));
  for (const [level, , message, properties] of records) {
    // What the worker runtime posts passes the main thread's guard.
    const checked = parseSourceMessage({
      v: 1,
      type: "log",
      level,
      message,
      properties,
    });
    assertEquals(checked.type, "log");
  }
  assert(String(records[3]![3].error).startsWith("TypeError: bad"));
});
