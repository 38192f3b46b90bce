import { assert, assertEquals } from "../tests/assert.ts";
import { backoffDelay } from "./backoff.ts";

Deno.test("backoffDelay() doubles up to the cap", () => {
  const delays = [0, 1, 2, 3, 10, 100].map((attempt) =>
    backoffDelay(attempt, { initialMs: 100, maxMs: 1000, jitter: 0 })
  );
  assertEquals(delays, [100, 200, 400, 800, 1000, 1000]);
});

Deno.test("backoffDelay() keeps jitter inside the delay", () => {
  for (const value of [0, 0.5, 0.999]) {
    const delay = backoffDelay(2, {
      initialMs: 100,
      jitter: 0.5,
      random: () => value,
    });
    assert(delay >= 200 && delay <= 400, `delay ${delay}`);
  }
});
