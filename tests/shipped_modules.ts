/**
 * The modules the agent and the library ship: every .ts file of the
 * repository but tests, benchmarks and test data, for the tests that read
 * the code itself (tests/function_length_test.ts, tests/error_form_test.ts).
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);

/** Folders whose modules are not shipped. */
const NOT_SHIPPED = new Set([
  "tests",
  "bench",
  "node_modules",
  ".git",
  "testdata",
]);

/** Each shipped module's path (from the repository's root) and text. */
export async function* shippedModules(
  dir: URL = ROOT,
  path = "",
): AsyncGenerator<[path: string, source: string]> {
  for await (const entry of Deno.readDir(dir)) {
    const name = `${path}${entry.name}`;
    if (entry.isDirectory) {
      if (NOT_SHIPPED.has(entry.name)) continue;
      yield* shippedModules(new URL(`${entry.name}/`, dir), `${name}/`);
    } else if (name.endsWith(".ts") && !name.endsWith("_test.ts")) {
      yield [name, await Deno.readTextFile(new URL(entry.name, dir))];
    }
  }
}
