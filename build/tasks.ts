/**
 * The bundle and compile tasks, made from the source registry: every
 * source's worker entry is a bundle entry point and a `--include` of the
 * compiled binary, so adding a source never means editing deno.json.
 *
 *   deno run -A build/tasks.ts bundle [outdir]
 *   deno run -A build/tasks.ts compile <target> [output]
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };
import { SOURCES } from "../sources/registry.ts";

const ROOT = new URL("../", import.meta.url);

/** The worker entries of the registry, relative to the repository. */
export function workerEntries(): string[] {
  return SOURCES.map((source) =>
    source.worker.module.href.slice(ROOT.href.length)
  ).sort();
}

/** The Deno flags between `deno run` and `main.ts` in the start task. */
export function startTaskFlags(): string[] {
  const words = config.tasks.start.split(/\s+/);
  const from = words.indexOf("run");
  const to = words.indexOf("main.ts");
  if (from < 0 || to < from) {
    throw new Error(
      `Cannot read the start task of deno.json: it is not "deno run … main.ts"`,
    );
  }
  return words.slice(from + 1, to);
}

/**
 * The Deno flags that run the bundle outside the source tree, where no
 * deno.json turns the unstable features on: the start task's flags with
 * deno.json's `unstable` list as `--unstable-*` flags, V8 flags last.
 */
export function bundleRunFlags(): string[] {
  const flags = startTaskFlags();
  const v8 = flags.filter((flag) => flag.startsWith("--v8-flags="));
  return [
    ...flags.filter((flag) => !v8.includes(flag)),
    ...config.unstable.map((feature) => `--unstable-${feature}`),
    ...v8,
  ];
}

/** `deno bundle` arguments: main.ts and every worker, into `outdir`. */
export function bundleArgs(outdir = "dist/bundle"): string[] {
  return [
    "bundle",
    "--quiet",
    "--outdir",
    outdir,
    "main.ts",
    ...workerEntries(),
  ];
}

/** The binary's path for `target` (named after the Go agent it replaces). */
export function compileOutput(target: string): string {
  return `dist/${target.split("-")[0]}-linux/rancher-desktop-guestagent`;
}

/**
 * `deno compile` arguments for `target`: the start task's V8 flags built
 * in, every worker included.
 */
export function compileArgs(
  target: string,
  output: string = compileOutput(target),
): string[] {
  return [
    "compile",
    "--allow-all",
    ...startTaskFlags().filter((flag) => flag.startsWith("--v8-flags=")),
    "--target",
    target,
    ...workerEntries().flatMap((entry) => ["--include", entry]),
    "--output",
    output,
    "main.ts",
  ];
}

if (import.meta.main) {
  const [task, ...rest] = Deno.args;
  const args = task === "bundle"
    ? bundleArgs(rest[0])
    : task === "compile" && rest[0]
    ? compileArgs(rest[0], rest[1])
    : undefined;
  if (args === undefined) {
    // deno-lint-ignore no-console -- a build script's usage line
    console.error(
      "usage: build/tasks.ts bundle [outdir] | compile <target> [output]",
    );
    Deno.exit(2);
  }
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exit(code);
}
