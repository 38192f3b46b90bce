/**
 * What each source worker loads: every package a worker imports costs RSS
 * in every worker that loads it (an isolate each), so the graphs are kept
 * narrow on purpose (measured: the logging library cost about 1 MiB per
 * worker). Only containerd needs npm packages (grpc-js and the proto
 * loader).
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { SOURCES } from "../sources/registry.ts";

/** npm packages a worker may load, by source; a source not named may load none. */
const ALLOWED_NPM: Readonly<Record<string, readonly string[]>> = {
  containerd: ["@grpc/grpc-js", "@grpc/proto-loader", "protobufjs"],
};

async function npmImports(entry: URL): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.pathname],
    stdin: "null",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  return graph.modules.map((module) => module.specifier)
    .filter((specifier) => specifier.startsWith("npm:"))
    .map((specifier) =>
      specifier.replace(/^npm:\/?/, "").replace(/@[^@]*$/, "")
    )
    .sort();
}

for (const source of SOURCES) {
  Deno.test(`the ${source.name} worker loads only the npm packages it needs (no logging library)`, async () => {
    assertEquals(
      await npmImports(source.worker.module),
      [...ALLOWED_NPM[source.name] ?? []].sort(),
    );
  });
}
