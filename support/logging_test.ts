import { getLogger, resetSync } from "@logtape/logtape";
import { assertEquals, assertStringIncludes } from "../tests/assert.ts";
import { setupLogging } from "./logging.ts";

Deno.test("setupLogging() writes text at info and hides debug", () => {
  const lines: string[] = [];
  setupLogging({ write: (line) => lines.push(line) });
  const logger = getLogger(["guest-agent", "test"]);
  logger.debug("hidden");
  logger.info("port {key} added", { key: "tcp/0.0.0.0:80" });
  resetSync();
  assertEquals(lines.length, 1);
  assertStringIncludes(lines[0]!, "port tcp/0.0.0.0:80 added");
  assertStringIncludes(lines[0]!, "guest-agent·test");
});

Deno.test("setupLogging() writes JSON lines with debug", () => {
  const lines: string[] = [];
  setupLogging({ debug: true, json: true, write: (line) => lines.push(line) });
  getLogger(["guest-agent", "test"]).debug("x {n}", { n: 1 });
  resetSync();
  const record = JSON.parse(lines[0]!);
  assertEquals(record.level, "DEBUG");
  assertEquals(record.properties.n, 1);
});

Deno.test("setupLogging(): text lines show a source's control characters escaped", () => {
  const lines: string[] = [];
  setupLogging({ write: (line) => lines.push(line) });
  getLogger(["guest-agent", "test"]).info("{name} appeared, {count}", {
    name: "web\nFAKE [ERR] line\x1b[2J",
    count: 3,
  });
  resetSync();
  assertEquals(lines.length, 1);
  assertEquals(lines[0]!.split("\n").length, 2, "one line and its newline");
  assertStringIncludes(lines[0]!, "web\\nFAKE [ERR] line\\x1b[2J appeared, 3");
});
