import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { parseListPage, parseWatchEvent } from "./parse_watch.ts";

Deno.test("parseListPage() reads items, resourceVersion and the continue token", () => {
  assertEquals(
    parseListPage({
      kind: "ServiceList",
      metadata: { resourceVersion: "42", continue: "abc" },
      items: [{ a: 1 }],
    }),
    { items: [{ a: 1 }], resourceVersion: "42", continue: "abc" },
  );
  assertEquals(
    parseListPage({
      metadata: { resourceVersion: "7", continue: "" },
      items: null,
    }),
    { items: [], resourceVersion: "7" },
  );
});

Deno.test("parseListPage() refuses what is not a list", async (t) => {
  const cases: [string, unknown, string][] = [
    ["null", null, "not an object"],
    ["an array", [], "not an object"],
    [
      "items not a list",
      { metadata: { resourceVersion: "1" }, items: {} },
      "items is not a list",
    ],
    ["no version", { metadata: {}, items: [] }, "no metadata.resourceVersion"],
    [
      "version a number",
      { metadata: { resourceVersion: 1 }, items: [] },
      "no metadata.resourceVersion",
    ],
  ];
  for (const [what, body, message] of cases) {
    await t.step(
      what,
      () => void assertThrows(() => parseListPage(body), TypeError, message),
    );
  }
});

Deno.test("parseWatchEvent() reads each event type", () => {
  const service = { metadata: { uid: "u", resourceVersion: "9" } };
  assertEquals(
    parseWatchEvent(JSON.stringify({ type: "ADDED", object: service })),
    {
      kind: "change",
      object: service,
      resourceVersion: "9",
    },
  );
  assertEquals(
    parseWatchEvent(JSON.stringify({ type: "MODIFIED", object: { spec: {} } })),
    {
      kind: "change",
      object: { spec: {} },
    },
  );
  assertEquals(
    parseWatchEvent(JSON.stringify({ type: "DELETED", object: service })),
    {
      kind: "delete",
      object: service,
      resourceVersion: "9",
    },
  );
  assertEquals(
    parseWatchEvent(JSON.stringify({
      type: "BOOKMARK",
      object: { metadata: { resourceVersion: "12" } },
      unknownField: true,
    })),
    { kind: "bookmark", resourceVersion: "12" },
  );
  assertEquals(
    parseWatchEvent(JSON.stringify({
      type: "ERROR",
      object: {
        kind: "Status",
        code: 410,
        message: "too old resource version",
      },
    })),
    { kind: "error", code: 410, message: "too old resource version" },
  );
  assertEquals(parseWatchEvent('{"type":"ERROR","object":{}}').kind, "error");
});

Deno.test("parseWatchEvent() refuses hostile lines, quoting them (bounded)", async (t) => {
  const cases: [string, string, string][] = [
    ["truncated", '{"type":"ADDED","object":{"metadata"', "not JSON"],
    ["empty", "", "not JSON"],
    ["a number", "5", "no object"],
    ["object a string", '{"type":"ADDED","object":"x"}', "no object"],
    [
      "unknown type",
      '{"type":"RENAMED","object":{}}',
      'unknown type "RENAMED"',
    ],
    ["type missing", '{"object":{}}', "unknown type undefined"],
    [
      "bookmark without version",
      '{"type":"BOOKMARK","object":{}}',
      "without a resourceVersion",
    ],
    ["oversized garbage", "x".repeat(100_000), "not JSON"],
  ];
  for (const [what, line, message] of cases) {
    await t.step(what, () => {
      assertThrows(() => parseWatchEvent(line), TypeError, message);
      try {
        parseWatchEvent(line);
      } catch (error) {
        assertEquals((error as Error).message.length < 400, true);
      }
    });
  }
});
