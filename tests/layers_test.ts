/**
 * The dependency rules, checked on the real module graphs:
 * - the main thread (main.ts) loads no watcher module: of sources/ only the
 *   top level, each source's descriptor and configuration, and each source's
 *   main_thread/ folder (never sources/worker/); of npm only the logging
 *   library and js-yaml;
 * - imports point one way: cli/ (the command line and the control
 *   commands) → agent/ (the composition root: planning and wiring) →
 *   control/ (the control API) → sources/, forwarding/ → tracker/ →
 *   support/ → binding/. Nothing below imports a room above it; sources/
 *   and forwarding/ do not import each other; binding/ (the vocabulary:
 *   binding, key, IP addresses, modes, observations) is the ground floor and
 *   imports only itself.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { SOURCES } from "../sources/registry.ts";

const ROOT = new URL("../", import.meta.url);

interface Graph {
  readonly modules: readonly {
    readonly specifier: string;
    readonly dependencies?: readonly {
      readonly specifier: string;
      readonly code?: { readonly specifier: string };
      readonly type?: { readonly specifier: string };
    }[];
  }[];
}

async function graphOf(path: string): Promise<Graph> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    cwd: ROOT,
    stdin: "null",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** A module's path in the repository, or its npm package. */
function named(specifier: string): string {
  if (specifier.startsWith(ROOT.href)) return specifier.slice(ROOT.href.length);
  return specifier.replace(/^npm:\/?/, "npm:").replace(/@[^@/]*$/, "");
}

/**
 * Whether the main thread may load `name`, a module of sources/, read from
 * its folder: the top level (registry, descriptors, supervisor, probe, the
 * message protocol), each source's descriptor and configuration
 * (`sources/<name>/source.ts`, `config.ts`) and its `main_thread/` folder;
 * never `sources/worker/` (what every worker shares) nor a source's
 * watcher.
 */
function mainThreadSide(name: string): boolean {
  const [, folder, file, ...deeper] = name.split("/");
  if (file === undefined) return true; // sources/<file>.ts
  if (folder === "worker") return false;
  if (deeper.length === 0) return file === "source.ts" || file === "config.ts";
  return file === "main_thread";
}

Deno.test("the main thread loads no watcher module", async () => {
  const loaded = (await graphOf("main.ts")).modules.map((module) =>
    named(module.specifier)
  );
  assertEquals(
    loaded.filter((name) =>
      name.startsWith("sources/") && !mainThreadSide(name)
    ),
    [],
  );
  assertEquals(
    loaded.filter((name) => name.startsWith("npm:")).sort(),
    ["npm:@logtape/logtape", "npm:js-yaml"],
  );
});

/** Which top-level folders each folder may import from. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  cli: [
    "cli",
    "agent",
    "control",
    "sources",
    "forwarding",
    "tracker",
    "support",
    "binding",
  ],
  agent: [
    "agent",
    "control",
    "sources",
    "forwarding",
    "tracker",
    "support",
    "binding",
  ],
  control: [
    "control",
    "sources",
    "forwarding",
    "tracker",
    "support",
    "binding",
  ],
  sources: ["sources", "tracker", "support", "binding", "proto"],
  forwarding: ["forwarding", "tracker", "support", "binding"],
  tracker: ["tracker", "support", "binding"],
  support: ["support", "binding"],
  binding: ["binding"],
};

Deno.test("imports point one way: cli → agent → control → sources, forwarding → tracker → support → binding", async () => {
  const graphs = [await graphOf("main.ts"), await graphOf("mod.ts")];
  const workers = await Promise.all(
    SOURCES.map((source) => graphOf(source.worker.module.pathname)),
  );
  const wrong = new Set<string>();
  for (const module of [...graphs, ...workers].flatMap((g) => g.modules)) {
    const from = named(module.specifier);
    const folder = from.split("/")[0]!;
    const allowed = MAY_IMPORT[folder];
    if (allowed === undefined) continue;
    for (const dependency of module.dependencies ?? []) {
      const target = dependency.code?.specifier ?? dependency.type?.specifier;
      if (target === undefined || !target.startsWith(ROOT.href)) continue;
      const to = named(target);
      const toFolder = to.split("/")[0]!;
      if (!allowed.includes(toFolder)) wrong.add(`${from} → ${to}`);
    }
  }
  assertEquals([...wrong].sort(), []);
});
