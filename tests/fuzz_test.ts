/**
 * A short fuzz run of every parser (tests/fuzz/parser_properties.ts); the
 * long run is `deno run -A bench/fuzz_long.ts`.
 *
 * @module
 */
import fc from "fast-check";
import { parserProperties } from "./fuzz/parser_properties.ts";

Deno.test("every parser survives hostile input (short fuzz run)", async (t) => {
  for (const [name, property] of parserProperties()) {
    await t.step(name, () => {
      fc.assert(property, { numRuns: 1_000 });
    });
  }
});
