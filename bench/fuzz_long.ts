/**
 * The long fuzz run: 100,000 inputs for every parser
 * (tests/fuzz/parser_properties.ts). Prints each parser's time; a failure
 * prints the shrunk input and exits 1.
 *
 * Run: `deno run --allow-all bench/fuzz_long.ts [runs]`
 *
 * @module
 */
import fc from "fast-check";
import { parserProperties } from "../tests/fuzz/parser_properties.ts";
import { print, reportValue } from "./latency_support.ts";

const RUNS = Number(Deno.args[0] ?? 100_000);
let failed = false;
let failures = 0;
const properties = parserProperties();
for (const [name, property] of properties) {
  const start = performance.now();
  const result = fc.check(property, { numRuns: RUNS });
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  if (result.failed) {
    failed = true;
    failures++;
    print(
      `${name}: FAILED after ${result.numRuns} inputs (${seconds} s): ${
        fc.defaultReportMessage(result)
      }`,
    );
  } else print(`${name}: ${RUNS} inputs, no failure (${seconds} s)`);
}
reportValue(
  `fuzz: parsers failing of ${properties.length} (${RUNS} inputs each)`,
  failures,
  "parsers",
);
if (failed) Deno.exit(1);
