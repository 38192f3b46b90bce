import { assertEquals, assertThrows } from "./assert.ts";
import { ignoreUnless, IN_CI } from "./requirements.ts";

Deno.test("ignoreUnless: an available requirement never ignores", () => {
  assertEquals(ignoreUnless("anything", true), false);
});

Deno.test("ignoreUnless: a missing requirement ignores, or fails under CI=true", () => {
  if (IN_CI) {
    assertThrows(() => ignoreUnless("a thing", false), Error, "CI=true");
  } else {
    assertEquals(ignoreUnless("a thing", false), true);
  }
});
