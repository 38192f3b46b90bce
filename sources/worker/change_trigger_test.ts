import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { FakeClock } from "../../support/clock.ts";
import { changeTrigger } from "./change_trigger.ts";
import type { WakeReason } from "./rescan_loop.ts";

/** A subscription the test drives: notify, end, fail. */
function handSubscription() {
  let notify: () => void = () => {};
  let end: (error?: Error) => void = () => {};
  const listen = (onChange: () => void, signal: AbortSignal) => {
    notify = onChange;
    return new Promise<void>((resolve, reject) => {
      end = (error) => error ? reject(error) : resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  };
  return { listen, notify: () => notify(), end: (e?: Error) => end(e) };
}

const OPTIONS = { description: "by hand", debounceMs: 10, maxDelayMs: 50 };

/** A trigger on a hand-driven subscription and a fake clock. */
function started() {
  const clock = new FakeClock();
  const controller = new AbortController();
  const hand = handSubscription();
  const trigger = changeTrigger(hand.listen, clock, controller.signal, OPTIONS);
  return { clock, controller, hand, trigger };
}

/** Starts `next` and records when (fake time) and how it ended. */
function track(promise: Promise<WakeReason>, clock: FakeClock) {
  const result: { at?: number; reason?: WakeReason } = {};
  promise.then((reason) => {
    result.at = clock.now();
    result.reason = reason;
  }, () => {});
  return result;
}

Deno.test("changeTrigger() wakes once a burst has been quiet for debounceMs", async () => {
  const { clock, controller, hand, trigger } = started();
  const woke = track(trigger.next(1000), clock);
  await clock.advance(100);
  for (let i = 0; i < 3; i++) {
    hand.notify();
    await clock.advance(5);
  }
  assertEquals(woke.reason, undefined, "still debouncing");
  await clock.advance(5);
  assertEquals(woke, { at: 120, reason: "event" });
  controller.abort();
  await trigger.close();
});

Deno.test("changeTrigger() wakes within maxDelayMs of a burst that never pauses", async () => {
  const { clock, controller, hand, trigger } = started();
  const woke = track(trigger.next(1000), clock);
  for (let t = 0; t < 100; t += 5) {
    hand.notify();
    await clock.advance(5);
  }
  assertEquals(woke, { at: 50, reason: "event" });
  controller.abort();
  await trigger.close();
});

Deno.test("changeTrigger() keeps changes made between waits, times out, stops", async () => {
  const { clock, controller, hand, trigger } = started();
  hand.notify(); // during a scan: no wait pending
  await clock.advance(30);
  assertEquals(await trigger.next(1000), "event", "kept for the next wait");
  const timedOut = track(trigger.next(200), clock);
  await clock.advance(200);
  assertEquals(timedOut, { at: 230, reason: "timeout" });
  const stopped = track(trigger.next(200), clock);
  controller.abort();
  await clock.advance(0);
  assertEquals(stopped.reason, "stopped");
  await trigger.close();
});

Deno.test("changeTrigger() throws once the subscription fails or ends", async () => {
  for (const error of [new Error("socket closed"), undefined]) {
    const clock = new FakeClock();
    const controller = new AbortController();
    const hand = handSubscription();
    const trigger = changeTrigger(
      hand.listen,
      clock,
      controller.signal,
      OPTIONS,
    );
    const next = trigger.next(10_000);
    hand.end(error);
    await assertRejects(
      () => next,
      Error,
      error ? "socket closed" : "the notifications ended",
    );
    await trigger.close();
    controller.abort();
  }
});
