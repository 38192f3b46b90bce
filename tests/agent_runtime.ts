/**
 * How the agent is run: the Deno flags of deno.json's start task, the one
 * place they are written. Tests and benchmarks that start the agent as a
 * process use them, so they run what users run.
 *
 * @module
 */
import { bundleRunFlags, startTaskFlags } from "../build/tasks.ts";

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
export const BUNDLE_RUN_FLAGS: readonly string[] = bundleRunFlags();
