import { assertEquals } from "../tests/assert.ts";
import fc from "fast-check";
import { escapeForTerminal } from "./terminal_text.ts";

Deno.test("escapeForTerminal() shows control characters as escapes", () => {
  assertEquals(
    escapeForTerminal("web\n\x1b[2J\r\tx\x00\x7f\x9b"),
    "web\\n\\x1b[2J\\r\\tx\\x00\\x7f\\x9b",
  );
  assertEquals(escapeForTerminal("a\u202eb\u2066c"), "a\\u202eb\\u2066c");
  assertEquals(
    escapeForTerminal("plain-name_1 ünïcode/\\"),
    "plain-name_1 ünïcode/\\",
  );
});

Deno.test("escapeForTerminal() leaves no control character in any string", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
      const shown = escapeForTerminal(text);
      // deno-lint-ignore no-control-regex -- looking for control characters
      return !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(
        shown,
      );
    }),
    { numRuns: 2000 },
  );
});
