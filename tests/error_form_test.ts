/**
 * Errors in one form (docs/architecture.md, "Errors"): every error the
 * shipped code makes with its own text says `Cannot <do what>: <why>`,
 * naming the input or the peer. Checked on the source text through Deno's
 * lint plugin API: `new …Error(text)`, `new Deno.errors.…(text)` and an
 * error class's `super(text)`, where the text is a string or template
 * literal (an error that passes on a message made elsewhere is checked
 * where that message is made).
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { shippedModules } from "./shipped_modules.ts";

const FORM = /^Cannot [^:]+:/;

/** The literal text an argument starts with, or undefined when it is not a literal. */
function literalStart(node: Deno.lint.Node | undefined): string | undefined {
  if (node?.type === "Literal" && typeof node.value === "string") {
    return node.value;
  }
  if (node?.type === "TemplateLiteral") {
    // The text up to the first `:` must be there before any ${…}, or be
    // made of the literal parts around them.
    return node.quasis.map((quasi) => quasi.cooked ?? "").join("…");
  }
  return undefined;
}

function isErrorConstructor(callee: Deno.lint.Node): boolean {
  if (callee.type === "Identifier") return /Error$/.test(callee.name);
  return callee.type === "MemberExpression" &&
    callee.object.type === "MemberExpression" &&
    callee.object.object.type === "Identifier" &&
    callee.object.object.name === "Deno" &&
    callee.object.property.type === "Identifier" &&
    callee.object.property.name === "errors";
}

/** A rule reporting every error text not in the form. */
const ERROR_FORM: Deno.lint.Plugin = {
  name: "guest-agent",
  rules: {
    "error-form": {
      create(context) {
        const check = (
          node: Deno.lint.Node,
          argument: Deno.lint.Node | undefined,
        ) => {
          const text = literalStart(argument);
          if (text !== undefined && !FORM.test(text)) {
            context.report({ node, message: text.slice(0, 80) });
          }
        };
        return {
          NewExpression(node) {
            // The message is the first argument of a constructor that takes
            // a message (and maybe ErrorOptions), not of one such as
            // DockerApiError(what, status, body) that makes its own.
            const [first, options, ...rest] = node.arguments;
            if (
              isErrorConstructor(node.callee) && rest.length === 0 &&
              (options === undefined || options.type === "ObjectExpression")
            ) {
              check(node, first);
            }
          },
          CallExpression(node) {
            if (node.callee.type === "Super") check(node, node.arguments[0]);
          },
        };
      },
    },
  },
};

function reportsOf(path: string, source: string): string[] {
  return Deno.lint.runPlugin(ERROR_FORM, path, source).map((report) =>
    `${path}:${
      source.slice(0, report.range[0]).split("\n").length
    }: ${report.message}`
  );
}

Deno.test("every error the shipped code makes says what it cannot do, then why", async () => {
  const wrong: string[] = [];
  let checked = 0;
  for await (const [path, source] of shippedModules()) {
    checked++;
    wrong.push(...reportsOf(path, source));
  }
  assertEquals(checked > 50, true, `only ${checked} modules found`);
  assertEquals(wrong, []);
});

Deno.test("the error form rule reads literals, templates and super calls", () => {
  const messages = (source: string) =>
    reportsOf("case.ts", source).map((line) =>
      line.split(": ").slice(1).join(": ")
    );
  assertEquals(messages(`throw new Error("refused");`), ["refused"]);
  assertEquals(
    messages("throw new TypeError(`port ${p} is out of range`);"),
    ["port … is out of range"],
  );
  assertEquals(messages(`throw new Deno.errors.NotFound("gone");`), ["gone"]);
  assertEquals(
    messages(`class E extends Error { constructor() { super("oops"); } }`),
    ["oops"],
  );
  assertEquals(messages("throw new Error(`Cannot read ${path}: ${why}`);"), []);
  assertEquals(messages(`throw new RangeError("Cannot bind: taken");`), []);
  assertEquals(messages(`throw new Error(message);`), [], "made elsewhere");
  assertEquals(
    messages(`throw new Error("gone", { cause });`),
    ["gone"],
    "with ErrorOptions",
  );
  assertEquals(
    messages(`throw new ApiError("GET /x", 404, body);`),
    [],
    "a class that makes its own message",
  );
  assertEquals(messages(`throw new Error("Cannot go on");`), ["Cannot go on"]);
});
