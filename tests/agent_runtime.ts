/**
 * How the agent is run: the Deno flags of deno.json's start task, the one
 * place they are written. Tests and benchmarks that start the agent as a
 * process use them, so they run what users run.
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

function startTaskFlags(): string[] {
  const words = config.tasks.start.split(/\s+/);
  const from = words.indexOf("run");
  const to = words.indexOf("main.ts");
  if (from < 0 || to < from) {
    throw new Error(`deno.json's start task is not "deno run … main.ts"`);
  }
  return words.slice(from + 1, to);
}

/** The flags between `deno run` and `main.ts` in the start task. */
export const AGENT_RUN_FLAGS: readonly string[] = startTaskFlags();

/** Of those, the V8 flags (`--v8-flags=…`): compile and bundle runs need them too. */
export const AGENT_V8_FLAGS: readonly string[] = AGENT_RUN_FLAGS.filter((
  flag,
) => flag.startsWith("--v8-flags="));

/**
 * How README says to run the bundle (`deno run <these> dist/bundle/main.js`):
 * outside the source tree no deno.json turns the unstable features on.
 */
export const BUNDLE_RUN_FLAGS: readonly string[] = [
  "--allow-all",
  "--unstable-worker-options",
  "--unstable-net",
  ...AGENT_V8_FLAGS,
];
