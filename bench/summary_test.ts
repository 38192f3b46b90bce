import { assert, assertEquals } from "../tests/assert.ts";
import {
  FIGURE_SCRIPTS,
  MICRO_BENCHMARKS,
  microFigures,
  SCRIPT_DESCRIPTIONS,
  summaryTable,
} from "./summary.ts";

Deno.test("summaryTable() gives each figure its ratio to the target, met or missed", () => {
  const lines = summaryTable([
    {
      script: "a.ts",
      label: "latency",
      median: 1,
      p99: 12,
      n: 100,
      unit: "ms",
      target: { median: 2, p99: 10 },
    },
    {
      script: "b.ts",
      label: "rss",
      median: 50,
      n: 1,
      unit: "MiB",
      target: { median: 64 },
    },
    { script: "c.ts", label: "plain", median: 1234.5, n: 1, unit: "ms" },
  ]);
  assertEquals(lines.length, 5);
  assert(lines[2]!.includes("1.20 missed"), lines[2]!);
  assert(lines[3]!.includes("0.78 met"), lines[3]!);
  assert(lines[4]!.includes("| 1235 "), lines[4]!);
  assert(!lines[4]!.includes("met") && !lines[4]!.includes("missed"));
});

Deno.test("every figure script is in the summary's list, and nothing else", async () => {
  const scripts: string[] = [];
  for await (const entry of Deno.readDir(new URL("./", import.meta.url))) {
    if (/_(figures|latency)\.ts$|^fuzz_long\.ts$/.test(entry.name)) {
      scripts.push(entry.name.replace(/\.ts$/, ""));
    }
  }
  assertEquals(scripts.sort(), [...FIGURE_SCRIPTS].sort());
});

Deno.test("microFigures() reads deno bench's JSON as means in µs, and refuses other JSON", () => {
  const json = JSON.stringify({
    version: 1,
    benches: [
      {
        origin: "file:///repo/bench/core_bench.ts",
        group: null,
        name: "tracker snapshot",
        results: [{ ok: { n: 50, avg: 2500, p99: 4000, p75: 2600 } }],
      },
      {
        origin: "file:///repo/bench/core_bench.ts",
        group: null,
        name: "threw",
        results: [{ failed: "Error: boom" }],
      },
    ],
  });
  assertEquals(microFigures(json), [{
    label: "core_bench: tracker snapshot",
    median: 2.5,
    statistic: "mean",
    p99: 4,
    n: 50,
    unit: "µs",
  }]);
  let error: unknown;
  try {
    microFigures("{}");
  } catch (caught) {
    error = caught;
  }
  assert(error instanceof SyntaxError, String(error));
});

Deno.test("every script the summary runs has a description for docs/benchmarks.md", () => {
  for (const script of [MICRO_BENCHMARKS, ...FIGURE_SCRIPTS]) {
    assert(SCRIPT_DESCRIPTIONS[script], `no description of ${script}`);
  }
});
