/**
 * The library API documents itself by example, as the standard library
 * does: every symbol `mod.ts` exports has an `@example`, and every example
 * not marked `ignore` (those start an agent or workers on this machine)
 * type-checks and runs (`deno test --doc`), importing `@guest-agent/agent`
 * as a user of the package would.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);

interface DocNode {
  readonly name: string;
  readonly declarations: readonly {
    readonly location: { readonly filename: string };
    readonly jsDoc?: { readonly tags?: readonly { readonly kind: string }[] };
  }[];
}

async function run(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

/** The symbols mod.ts exports, as `deno doc --json` reads them. */
async function exported(): Promise<DocNode[]> {
  const doc = await run(["doc", "--json", "mod.ts"]);
  assertEquals(doc.code, 0, doc.stderr);
  const { nodes } = JSON.parse(doc.stdout) as {
    nodes: Record<string, { symbols: DocNode[] }>;
  };
  return Object.values(nodes).flatMap((module) => module.symbols);
}

Deno.test("every symbol mod.ts exports has an @example, and every example runs", async (t) => {
  const symbols = await exported();
  assert(symbols.length > 50, `${symbols.length} symbols`);
  await t.step("each has an @example", () => {
    const without = symbols.filter((symbol) =>
      !symbol.declarations.some((declaration) =>
        declaration.jsDoc?.tags?.some((tag) => tag.kind === "example")
      )
    ).map((symbol) => symbol.name);
    assertEquals(without, []);
  });
  await t.step(
    "deno test --doc passes on the modules they live in",
    async () => {
      const files = [
        ...new Set(
          symbols.flatMap((symbol) =>
            symbol.declarations.map((declaration) =>
              declaration.location.filename.slice(ROOT.href.length)
            )
          ),
        ),
        "mod.ts",
      ].sort();
      const result = await run(["test", "--doc", "--allow-all", ...files]);
      assertEquals(
        result.code,
        0,
        `${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
      );
      assert(/\d+ passed/.test(result.stdout), result.stdout.slice(-500));
    },
  );
});
