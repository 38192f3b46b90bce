/**
 * No production function over 100 lines (docs/architecture.md): every
 * function declaration, function expression, method and arrow function in
 * the modules the agent and the library ship (not tests, benchmarks or test
 * fixtures), measured on its source text through Deno's lint plugin API.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { shippedModules } from "./shipped_modules.ts";

/** The longest a production function may be, in lines. */
const MAX_FUNCTION_LINES = 100;

/** A rule that reports every function with its length in lines. */
const FUNCTION_LENGTHS: Deno.lint.Plugin = {
  name: "guest-agent",
  rules: {
    "function-length": {
      create(context) {
        const measure = (node: Deno.lint.Node) => {
          const lines = context.sourceCode.getText(node).split("\n").length;
          if (lines > MAX_FUNCTION_LINES) {
            context.report({ node, message: `${lines} lines` });
          }
        };
        return {
          FunctionDeclaration: measure,
          FunctionExpression: measure,
          ArrowFunctionExpression: measure,
        };
      },
    },
  },
};

/** Where a report is: its first line, as `path:line: text`. */
function located(path: string, source: string, offset: number): string {
  const line = source.slice(0, offset).split("\n").length;
  const text = source.slice(offset).split("\n")[0]!.trim().slice(0, 60);
  return `${path}:${line}: ${text}`;
}

Deno.test(`no production function is over ${MAX_FUNCTION_LINES} lines`, async () => {
  const tooLong: string[] = [];
  let checked = 0;
  for await (const [path, source] of shippedModules()) {
    checked++;
    for (const report of Deno.lint.runPlugin(FUNCTION_LENGTHS, path, source)) {
      tooLong.push(
        `${located(path, source, report.range[0])} (${report.message})`,
      );
    }
  }
  assertEquals(checked > 50, true, `only ${checked} modules found`);
  assertEquals(tooLong, []);
});

Deno.test("the function length rule measures what it should", () => {
  const long = `function long() {\n${"  call();\n".repeat(99)}}\n`;
  const fine = `const fine = () => {\n${"  call();\n".repeat(98)}};\n`;
  const method = `class A {\n  m() {\n${"    call();\n".repeat(99)}  }\n}\n`;
  const reports = (source: string) =>
    Deno.lint.runPlugin(FUNCTION_LENGTHS, "case.ts", source).map((r) =>
      r.message
    );
  assertEquals(reports(long), ["101 lines"]);
  assertEquals(reports(fine), []);
  assertEquals(reports(method), ["101 lines"]);
});
