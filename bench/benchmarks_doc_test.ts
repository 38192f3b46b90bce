import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import {
  type BenchEnvironment,
  figureTable,
  mergeResults,
  parseResults,
  renderBenchmarks,
  type ScriptResult,
  targetCells,
} from "./benchmarks_doc.ts";

const ENVIRONMENT: BenchEnvironment = {
  date: "2026-12-06T06:00:00.000Z",
  cores: 2,
  cpu: "AMD EPYC",
  kernel: "6.18.44",
  memoryGiB: 24,
  deno: "2.9.6",
  v8: "15.0",
  peers: { dockerd: "20.10.24", "Go agent": "v0.3.19" },
};

function result(script: string, label: string, date = ENVIRONMENT.date) {
  return {
    script,
    environment: { ...ENVIRONMENT, date },
    figures: [{ label, median: 1, n: 1, unit: "ms" }],
  } satisfies ScriptResult;
}

Deno.test("mergeResults() replaces the scripts that ran and keeps the others, in run order", () => {
  const previous = {
    version: 1 as const,
    scripts: [result("b", "old b", "2026-01-01"), result("a", "old a")],
  };
  const merged = mergeResults(previous, [result("b", "new b")], ["a", "b"]);
  assertEquals(merged.scripts.map((r) => r.figures[0]!.label), [
    "old a",
    "new b",
  ]);
  assertEquals(merged.scripts[1]!.environment.date, ENVIRONMENT.date);
});

Deno.test("parseResults() starts empty without a file and refuses what it did not write", () => {
  assertEquals(parseResults(undefined), { version: 1, scripts: [] });
  assertThrows(() => parseResults('{"version":2}'), SyntaxError);
  assertThrows(() => parseResults("not json"), SyntaxError);
});

Deno.test("targetCells() measures against the worst of median, p99 and the Go agent", () => {
  assertEquals(
    targetCells({
      label: "x",
      median: 1,
      p99: 12,
      n: 9,
      unit: "ms",
      target: { median: 2, p99: 10 },
    }),
    ["< 2.00, p99 < 10.00", "1.20 missed"],
  );
  assertEquals(
    targetCells({
      label: "x",
      median: 1.5,
      go: 2,
      n: 1,
      unit: "ms",
      target: { noWorseThanGo: true },
    }),
    ["≤ Go agent", "0.75 met"],
  );
  // Times that may be negative go by difference: earlier is better.
  assertEquals(
    targetCells({
      label: "x",
      median: -2.1,
      go: -1.2,
      n: 1,
      unit: "ms",
      target: { noWorseThanGo: true },
    }),
    ["≤ Go agent", "-0.900 ms vs Go met"],
  );
  assertEquals(
    targetCells({
      label: "x",
      median: 0.5,
      go: -1,
      n: 1,
      unit: "ms",
      target: { noWorseThanGo: true },
    }),
    ["≤ Go agent", "+1.50 ms vs Go missed"],
  );
  assertEquals(
    targetCells({ label: "x", median: 1, n: 1, unit: "ms" }),
    ["", ""],
  );
});

Deno.test("figureTable() shows the Go agent's figure beside ours only where one was measured", () => {
  const plain = figureTable([{ label: "rss", median: 50, n: 3, unit: "MiB" }]);
  assert(!plain[0]!.includes("Go agent"), plain[0]!);
  const beside = figureTable([
    { label: "latency", median: 3, go: 1.5, n: 1, unit: "ms" },
  ]);
  assert(beside[0]!.includes("Go agent, same run"), beside[0]!);
  assert(beside[2]!.includes("| 2.00 "), beside[2]!);
  assertEquals(new Set(beside.map((line) => line.length)).size, 1);
  // No ratio of times that may be negative.
  const negative = figureTable([
    { label: "after run", median: -2, go: -1, n: 1, unit: "ms" },
  ]);
  assert(!negative[2]!.includes("| 2.00 "), negative[2]!);
});

Deno.test("renderBenchmarks() dates every section with its machine and versions", () => {
  const page = renderBenchmarks(
    {
      version: 1,
      scripts: [
        result("a", "figure a"),
        { ...result("b", "figure b"), failed: "exit 1" },
      ],
    },
    { a: "What a measures." },
  );
  assert(page.startsWith("# Benchmarks\n"), page);
  assert(
    page.includes(
      "## a\n\nWhat a measures.\n\nMeasured 2026-12-06 06:00 UTC on 2 cores (AMD EPYC), 24.00 GiB, Linux 6.18.44; Deno 2.9.6 (V8 15.0); dockerd 20.10.24, Go agent v0.3.19.\n",
    ),
    page,
  );
  assert(page.includes("The script failed (exit 1)"), page);
  assert(page.includes("| figure a "), page);
});
