import { assertEquals, assertRejects } from "../tests/assert.ts";
import { FakeClock, sleep } from "./clock.ts";

Deno.test("FakeClock.advance() runs due timers in time order", async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  clock.setTimeout(() => seen.push("b"), 20);
  clock.setTimeout(() => seen.push("a"), 10);
  const cancelled = clock.setTimeout(() => seen.push("x"), 15);
  clock.clearTimeout(cancelled);
  await clock.advance(15);
  assertEquals(seen, ["a"]);
  await clock.advance(5);
  assertEquals(seen, ["a", "b"]);
  assertEquals(clock.now(), 20);
});

Deno.test("sleep() rejects when its signal aborts", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const done = sleep(clock, 1000, controller.signal);
  controller.abort(new Error("stop"));
  await assertRejects(() => done, Error, "stop");
  assertEquals(clock.pending, 0);
});
