/**
 * `deno compile` cannot run here (it downloads denort), so this checks what
 * can be checked: each target's compile task names every worker entry with
 * --include, builds in the start task's V8 flags and names its binary after
 * the Go agent it replaces.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { SOURCE_WORKERS } from "../sources/catalog.ts";
import { AGENT_V8_FLAGS } from "./agent_runtime.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("every compile task passes --include for every worker entry and the start task's V8 flags", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const entries = Object.values(SOURCE_WORKERS)
    .map((spec) => spec.entry.href.slice(ROOT.href.length))
    .sort();
  for (const entry of entries) await Deno.stat(new URL(entry, ROOT));
  const targets = Object.entries(config.tasks as Record<string, string>)
    .filter(([name]) => name.startsWith("compile:"));
  assertEquals(
    targets.map(([name]) => name).sort(),
    ["compile:aarch64", "compile:x86_64"],
  );
  for (const [name, task] of targets) {
    const included = [...task.matchAll(/--include\s+(\S+)/g)].map((m) => m[1]!)
      .sort();
    assertEquals(included, entries, name);
    assertEquals(
      task.split(/\s+/).filter((word) => word.startsWith("--v8-flags=")),
      [...AGENT_V8_FLAGS],
      `${name} builds in the V8 flags the start task runs with`,
    );
    const target = /--target\s+(\S+)/.exec(task)?.[1];
    assertEquals(
      /--output\s+(\S+)/.exec(task)?.[1],
      `dist/${target?.split("-")[0]}-linux/rancher-desktop-guestagent`,
      `${name} names its binary so it can replace the Go agent`,
    );
  }
  assertEquals(
    config.tasks.compile,
    "deno task compile:x86_64 && deno task compile:aarch64",
  );
});
