import { assert, assertEquals } from "../tests/assert.ts";
import { FIGURE_SCRIPTS, summaryTable } from "./summary.ts";

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
  assert(lines[2]!.includes("1.20 MISSED"), lines[2]!);
  assert(lines[3]!.includes("0.78 met"), lines[3]!);
  assert(lines[4]!.includes("| 1235 "), lines[4]!);
  assert(!lines[4]!.includes("met") && !lines[4]!.includes("MISSED"));
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
