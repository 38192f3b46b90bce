/**
 * `deno compile` cannot run here (it downloads denort), so this checks what
 * can be checked: each target's compile task names every worker entry with
 * --include, builds in the start task's V8 flags and names its binary after
 * the Go agent it replaces.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { SOURCES } from "../sources/registry.ts";
import { compileArgs } from "../build/tasks.ts";
import { AGENT_V8_FLAGS } from "./agent_runtime.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("every compile task runs build/tasks.ts, which includes every registered worker and the start task's V8 flags", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const entries = SOURCES
    .map((source) => source.worker.module.href.slice(ROOT.href.length))
    .sort();
  for (const entry of entries) await Deno.stat(new URL(entry, ROOT));
  const targets = Object.entries(config.tasks as Record<string, string>)
    .filter(([name]) => name.startsWith("compile:"));
  assertEquals(
    targets.map(([name]) => name).sort(),
    ["compile:aarch64", "compile:x86_64"],
  );
  for (const [name, task] of targets) {
    const target = /build\/tasks\.ts compile (\S+)$/.exec(task)?.[1];
    assertEquals(target, `${name.slice("compile:".length)}-unknown-linux-gnu`);
    const args = compileArgs(target!);
    const included = args.flatMap((arg, i) =>
      args[i - 1] === "--include" ? [arg] : []
    ).sort();
    assertEquals(included, entries, name);
    assertEquals(
      args.filter((word) => word.startsWith("--v8-flags=")),
      [...AGENT_V8_FLAGS],
      `${name} builds in the V8 flags the start task runs with`,
    );
    assertEquals(
      args[args.indexOf("--output") + 1],
      `dist/${target!.split("-")[0]}-linux/rancher-desktop-guestagent`,
      `${name} names its binary so it can replace the Go agent`,
    );
  }
  assertEquals(
    config.tasks.compile,
    "deno task compile:x86_64 && deno task compile:aarch64",
  );
});

/**
 * The paths in `deno compile`'s "Embedded Files" tree (`├─┬ sources (…)`,
 * `│ ├── worker.ts (…)`, `├── listeners/listener_forwarder.ts (…)`).
 */
function embeddedPaths(output: string): string[] {
  const paths: string[] = [];
  const folders: string[] = [];
  for (const line of output.split("\n")) {
    const match = /^((?:[│ ] )*)[├└]─([┬─]) (.+?) \([^)]*\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 2;
    folders.length = depth;
    const path = [...folders, match[3]!].join("/");
    if (match[2] === "┬") folders.push(match[3]!);
    else paths.push(path);
  }
  return paths;
}

Deno.test("the x86_64 compile task builds with deno standing in for denort: every worker embedded, the V8 flags built in", async () => {
  // The binary cannot run the agent (deno is not denort), but compiling
  // checks the task's flags, the module graph with every --include, and
  // what the binary's metadata carries.
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const dir = await Deno.makeTempDir({ prefix: "gacompile" });
  try {
    const output = `${dir}/rancher-desktop-guestagent`;
    // The task itself: build/tasks.ts runs deno compile.
    const task = (config.tasks["compile:x86_64"] as string).split(/\s+/);
    const compiled = await new Deno.Command(Deno.execPath(), {
      args: [...task.slice(1), output],
      cwd: ROOT,
      stdin: "null",
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
    }).output();
    const log = new TextDecoder().decode(compiled.stdout) +
      new TextDecoder().decode(compiled.stderr);
    assertEquals(compiled.code, 0, log);
    const embedded = embeddedPaths(log);
    for (const source of SOURCES) {
      const entry = source.worker.module.href.slice(ROOT.href.length);
      assertEquals(embedded.includes(entry), true, `${entry} in:\n${log}`);
    }
    // The metadata (JSON) sits in the payload after the runtime.
    const file = await Deno.open(output);
    const { size } = await file.stat();
    const tail = new Uint8Array(Math.min(size, 32 << 20));
    await file.seek(size - tail.length, Deno.SeekMode.Start);
    let read = 0;
    while (read < tail.length) {
      const n = await file.read(tail.subarray(read));
      if (n === null) break;
      read += n;
    }
    file.close();
    const flags = /"v8_flags":(\[[^\]]*\])/.exec(
      new TextDecoder("latin1").decode(tail),
    )?.[1];
    const built: string[] = JSON.parse(flags ?? "[]");
    for (const flag of AGENT_V8_FLAGS) {
      const value = flag.slice("--v8-flags=".length);
      assertEquals(built.includes(value), true, `${value} in ${flags}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
