/**
 * Narrows Node's `process.env` inside a worker. Some npm modules enumerate
 * the whole environment when they load (`debug`, under
 * @kubernetes/client-node, runs `Object.keys(process.env)`), which in Deno
 * needs a grant of every variable. Replacing `process.env` with a plain
 * object of the few variables the worker is granted keeps its env grant
 * narrow. Call it before importing such modules (with a dynamic import).
 *
 * @module
 */
import process from "node:process";

/**
 * Replaces `process.env` with a plain object holding only `names` (those
 * set and readable; a name without a grant is left out).
 *
 * @param names The variables to keep.
 * @returns The object now used as `process.env`.
 */
export function narrowProcessEnv(
  names: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    try {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    } catch { /* not granted: left out */ }
  }
  Object.defineProperty(process, "env", {
    value: env,
    configurable: true,
    enumerable: true,
    writable: true,
  });
  return env;
}
