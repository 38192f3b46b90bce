/**
 * `deno compile` cannot run here (it downloads denort), so this checks what
 * can be checked: the compile task names every worker entry with --include.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { SOURCE_WORKERS } from "../sources/catalog.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("the compile task passes --include for every worker entry", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const task: string = config.tasks.compile;
  const included = [...task.matchAll(/--include\s+(\S+)/g)].map((m) => m[1]!)
    .sort();
  const entries = Object.values(SOURCE_WORKERS)
    .map((spec) => spec.entry.href.slice(ROOT.href.length))
    .sort();
  assertEquals(included, entries);
  for (const entry of entries) await Deno.stat(new URL(entry, ROOT));
});
