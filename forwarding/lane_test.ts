import { assertEquals } from "../tests/assert.ts";
import { failedAgain } from "./lane.ts";

const doubling = (attempts: number) => 100 * 2 ** attempts;

Deno.test("failedAgain() counts attempts, keeps the error and says when to try next", () => {
  const first = failedAgain(undefined, "refused", 1_000, doubling);
  assertEquals(first, {
    failure: { attempts: 1, lastError: "refused", notBefore: 1_100 },
    delay: 100,
    news: true,
  });
  const second = failedAgain(first.failure, "refused", 1_100, doubling);
  assertEquals(second, {
    failure: { attempts: 2, lastError: "refused", notBefore: 1_300 },
    delay: 200,
    news: false,
  });
});

Deno.test("failedAgain() calls another error news, once", () => {
  const first = failedAgain(undefined, "refused", 0, doubling);
  const other = failedAgain(first.failure, "reset", 100, doubling);
  assertEquals([other.news, other.failure.lastError], [true, "reset"]);
  assertEquals(failedAgain(other.failure, "reset", 300, doubling).news, false);
});
