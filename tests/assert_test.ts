import { AssertionError } from "node:assert/strict";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./assert.ts";

function fails(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof AssertionError) return;
    throw error;
  }
  throw new Error("the assertion passed where it must fail");
}

Deno.test("assertEquals fails on values a lenient comparison would pass", () => {
  fails(() => assertEquals<unknown>(new Map([["a", 1]]), {}));
  fails(() => assertEquals(new Date(0), new Date(1000)));
  fails(() => assertEquals<unknown>({ a: undefined }, {}));
  fails(() => assertEquals(new Set([1]), new Set([2])));
  fails(() => assertEquals<unknown>([1], { 0: 1 }));
  fails(() => assertEquals<unknown>(1, "1"));
  fails(() => assertEquals(new Uint8Array([1]), new Uint8Array([2])));
});

Deno.test("assertEquals passes on deeply equal values", () => {
  assertEquals(
    new Map([["a", { b: [1, 2] }]]),
    new Map([["a", { b: [1, 2] }]]),
  );
  assertEquals(new Date(5), new Date(5));
  assertEquals({ a: 1, b: [new Set(["x"])] }, { b: [new Set(["x"])], a: 1 });
});

Deno.test("assert, assertStringIncludes, assertThrows and assertRejects fail when they should", async () => {
  fails(() => assert(false));
  fails(() => assert(0));
  assert(1);
  fails(() => assertStringIncludes("abc", "d"));
  assertStringIncludes("abc", "b");
  fails(() => assertThrows(() => {}));
  fails(() =>
    assertThrows(() => {
      throw new RangeError("x");
    }, TypeError)
  );
  fails(() =>
    assertThrows(
      () => {
        throw new Error("abc");
      },
      Error,
      "d",
    )
  );
  const error = assertThrows(
    () => {
      throw new TypeError("abc");
    },
    TypeError,
    "b",
  );
  assertEquals(error.message, "abc");
  let rejected = false;
  try {
    await assertRejects(() => Promise.resolve());
  } catch (failure) {
    rejected = failure instanceof AssertionError;
  }
  assert(rejected, "assertRejects passed on a promise that resolved");
  await assertRejects(() => Promise.reject(new Error("no")), Error, "no");
});
