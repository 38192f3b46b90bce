/**
 * What each isolate of the agent holds: the main thread's module graph and
 * each source worker's, loaded one after another in one Deno process with
 * the start task's V8 flags (plus `--expose-gc`, so each figure is taken
 * after a full collection). Per isolate: the modules its entry loads (our
 * files and npm packages, from `deno info --json`), the V8 heap it uses
 * after loading (`Deno.memoryUsage()` in that isolate), and what the
 * process's private (anonymous) memory grew by. The first row is Deno
 * itself: an empty script, and an idle worker with nothing loaded.
 *
 * A source's worker entry only loads here: it waits for a start message,
 * so what its watcher allocates while it works (buffers, its engine's
 * answers) is not in these figures; go_agent_figures and memory_figures
 * measure the agent at work.
 *
 * Run: `deno run --allow-all bench/isolate_figures.ts`
 *
 * @module
 */
import { SOURCES } from "../sources/registry.ts";
import { AGENT_V8_FLAGS } from "../tests/agent_runtime.ts";
import { print, recordFigure } from "./latency_support.ts";

const ROOT = new URL("../", import.meta.url);
const HARNESS = new URL("./fixtures/isolate_harness.ts", import.meta.url);

/** One step of the harness: an isolate loaded, and what it cost. */
interface Step {
  /** The module loaded, or what was measured. */
  readonly isolate: string;
  /** The isolate's V8 heap after loading and a collection, MiB. */
  readonly heapUsed: number;
  /** The process's private memory after the step, MiB. */
  readonly privateAfter: number;
}

/** Our modules and the npm packages `entry` loads. */
async function moduleGraph(
  entry: string,
): Promise<{ ours: number; oursKiB: number; npm: string[] }> {
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: {
      specifier: string;
      size?: number;
      dependencies?: { code?: { specifier?: string } }[];
    }[];
  };
  const ours = info.modules.filter((m) => m.specifier.startsWith("file:"));
  const npm = new Set(
    info.modules.flatMap((m) =>
      (m.dependencies ?? []).map((d) => d.code?.specifier ?? "")
    ).filter((specifier) => specifier.startsWith("npm:")),
  );
  return {
    ours: ours.length,
    oursKiB: ours.reduce((sum, m) => sum + (m.size ?? 0), 0) / 1024,
    npm: [...npm].map((s) => s.slice(4).replace(/@[^@/]*$/, "")),
  };
}

const main = new URL("main.ts", ROOT).href;
const v8 = AGENT_V8_FLAGS.length > 0
  ? AGENT_V8_FLAGS.map((flag) => `${flag},--expose-gc`)
  : ["--v8-flags=--expose-gc"];
const { stdout, success } = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-all",
    ...v8,
    HARNESS.pathname,
    `main:${main}`,
    ...SOURCES.map((source) => `worker:${source.worker.module.href}`),
  ],
  cwd: ROOT,
  stdout: "piped",
  stderr: "inherit",
}).output();
if (!success) {
  print("isolate_figures: the harness failed", Deno.stderr);
  Deno.exit(1);
}
const steps = new TextDecoder().decode(stdout).trim().split("\n").map((
  line,
) => JSON.parse(line) as Step);
print(
  `each isolate, loaded one after another in one process (${
    v8.join(" ")
  }); heap after a full collection; private: what the step added to the process`,
);
print(
  `${"isolate".padEnd(36)} ${"modules".padStart(7)} ${"KiB".padStart(5)} ${
    "heap MiB".padStart(8)
  } ${"+private MiB".padStart(12)}  npm`,
);
let previous = 0;
for (const step of steps) {
  const isSource = step.isolate.startsWith(ROOT.href);
  const name = isSource ? step.isolate.slice(ROOT.href.length) : step.isolate;
  const graph = isSource
    ? await moduleGraph(step.isolate)
    : { ours: 0, oursKiB: 0, npm: [] };
  const grew = step.privateAfter - previous;
  previous = step.privateAfter;
  print(
    `${name.padEnd(36)} ${String(graph.ours).padStart(7)} ${
      graph.oursKiB.toFixed(0).padStart(5)
    } ${step.heapUsed.toFixed(2).padStart(8)} ${
      grew.toFixed(2).padStart(12)
    }  ${graph.npm.join(", ") || "none"}`,
  );
  const what = isSource
    ? `${name} (${graph.ours} modules of ours, npm: ${
      graph.npm.join(", ") || "none"
    })`
    : name;
  recordFigure({
    label: `${what}: V8 heap after loading`,
    median: step.heapUsed,
    n: 1,
    unit: "MiB",
  });
  recordFigure({
    label: `${what}: private memory it adds`,
    median: grew,
    n: 1,
    unit: "MiB",
  });
}
