import { assertEquals } from "../../tests/assert.ts";
import { FakeClock, sleep } from "../../support/clock.ts";
import type { SourceMessageBody } from "./worker_runtime.ts";
import { sourceLogger } from "../source_log.ts";
import {
  type RescanLoop,
  rescanUntilAborted,
  type ScanTrigger,
  type WakeReason,
} from "./rescan_loop.ts";
import { SCAN_SPACING } from "./scan_pacing.ts";

/** A trigger the test fires by hand, recording the timeouts it was given. */
function handTrigger(events = true) {
  const timeouts: number[] = [];
  let fire: ((reason: WakeReason) => void) | undefined;
  let fail: ((error: Error) => void) | undefined;
  let closed = 0;
  const trigger: ScanTrigger = {
    description: "woken by hand",
    events,
    next(timeoutMs: number) {
      timeouts.push(timeoutMs);
      return new Promise((resolve, reject) => {
        fire = resolve;
        fail = reject;
      });
    },
    close: () => void closed++,
  };
  return {
    trigger,
    timeouts,
    fire: (reason: WakeReason) => fire?.(reason),
    fail: (error: Error) => fail?.(error),
    closed: () => closed,
  };
}

/** Runs a loop whose scans the test scripts: a result, a throw, a duration. */
function run(
  trigger: ScanTrigger,
  overrides: Partial<RescanLoop<string>> = {},
  first: { script?: (string | Error)[]; scanMs?: number } = {},
) {
  const clock = new FakeClock();
  const controller = new AbortController();
  const messages: SourceMessageBody[] = [];
  const scans: number[] = [];
  const published: string[] = [];
  const script: (string | Error)[] = [...first.script ?? []];
  const scanMs = first.scanMs ?? 0;
  const done = rescanUntilAborted<string>({
    logger: sourceLogger("test"),
    name: "test",
    clock,
    signal: controller.signal,
    emit: (message) => messages.push(message),
    trigger,
    eventsName: "hand events",
    pollMs: 1000,
    resyncMs: 30_000,
    scan: async () => {
      scans.push(clock.now());
      if (scanMs > 0) await sleep(clock, scanMs);
      const next = script.shift() ?? "same";
      if (next instanceof Error) throw next;
      return next;
    },
    publish: (result) => {
      published.push(result);
      return undefined;
    },
    ...overrides,
  });
  const statuses = () =>
    messages.flatMap((m) =>
      m.type === "status" ? [`${m.state}: ${m.reason ?? ""}`] : []
    );
  return {
    clock,
    controller,
    scans,
    published,
    script,
    statuses,
    done,
  };
}

Deno.test("rescanUntilAborted() scans at once, then on each wake; the safety net with events", async () => {
  const hand = handTrigger();
  const loop = run(hand.trigger);
  await loop.clock.advance(0);
  assertEquals(loop.scans, [0]);
  assertEquals(loop.statuses(), ["connected: woken by hand"]);
  assertEquals(hand.timeouts, [30_000], "with events: the safety net");
  await loop.clock.advance(100);
  hand.fire("event");
  await loop.clock.advance(0);
  assertEquals(loop.scans, [0, 100]);
  assertEquals(hand.timeouts.at(-1), 30_000);
  hand.fire("stopped");
  await loop.done;
  assertEquals(hand.closed(), 1);
});

Deno.test("rescanUntilAborted() wakes when publish says a scan is due sooner", async () => {
  const hand = handTrigger();
  let due: number | undefined = 25;
  const loop = run(hand.trigger, {
    publish: () => {
      const at = due;
      due = undefined;
      return at;
    },
  });
  await loop.clock.advance(0);
  assertEquals(hand.timeouts, [25]);
  await loop.clock.advance(25);
  hand.fire("timeout");
  await loop.clock.advance(0);
  assertEquals(hand.timeouts, [25, 30_000], "back to the safety net");
  loop.controller.abort();
  hand.fire("stopped");
  await loop.done;
});

Deno.test("rescanUntilAborted() spaces scans by their cost however often woken", async () => {
  const hand = handTrigger();
  const loop = run(hand.trigger, {}, { scanMs: 10 });
  await loop.clock.advance(0);
  await loop.clock.advance(10); // the first scan took 10 ms
  hand.fire("event"); // woken at once
  await loop.clock.advance(0);
  assertEquals(loop.scans, [0], "not before SCAN_SPACING × 10 ms");
  await loop.clock.advance(SCAN_SPACING * 10 - 10 - 1);
  assertEquals(loop.scans, [0]);
  await loop.clock.advance(1);
  assertEquals(loop.scans, [0, SCAN_SPACING * 10]);
  loop.controller.abort();
  await loop.clock.advance(10);
  hand.fire("stopped");
  await loop.done;
});

Deno.test("rescanUntilAborted() backs off while scans fail, keeps what it published, and says so once", async () => {
  const hand = handTrigger(false);
  const loop = run(hand.trigger, {}, {
    script: [
      new Error("Cannot read the table: denied"),
      new Error("Cannot read the table: denied"),
      "first",
    ],
  });
  await loop.clock.advance(0);
  assertEquals(loop.statuses(), ["waiting: Cannot read the table: denied"]);
  assertEquals(loop.published, []);
  await loop.clock.advance(400); // 250 ms ± 20 % later: the second failure
  assertEquals(loop.scans.length, 2);
  assertEquals(loop.statuses().length, 1, "the same failure is said once");
  await loop.clock.advance(700); // then 500 ms ± 20 %
  assertEquals(loop.published, ["first"]);
  assertEquals(loop.statuses().at(-1), "connected: woken by hand");
  assertEquals(hand.timeouts.length, 1, "without events: the poll interval");
  assertEquals(hand.timeouts[0]! <= 1000, true);
  loop.script.push(new Error("Cannot read the table: gone"));
  hand.fire("timeout");
  await loop.clock.advance(0);
  assertEquals(
    loop.statuses().at(-1),
    "reconnecting: Cannot read the table: gone",
  );
  assertEquals(loop.published, ["first"], "a failure publishes nothing");
  loop.controller.abort();
  await loop.clock.advance(10_000);
  await loop.done;
});

Deno.test("rescanUntilAborted() polls once the trigger's events fail, and says why", async () => {
  const hand = handTrigger();
  const loop = run(hand.trigger);
  await loop.clock.advance(0);
  hand.fail(new Error("the descriptors failed"));
  await loop.clock.advance(0);
  assertEquals(hand.closed(), 1);
  assertEquals(loop.scans.length, 2, "a scan at once after the fallback");
  assertEquals(
    loop.statuses().at(-1),
    "connected: polling every 1000 ms: hand events failed (the descriptors failed)",
  );
  await loop.clock.advance(1000);
  assertEquals(loop.scans.length, 3);
  loop.controller.abort();
  await loop.clock.advance(1000);
  await loop.done;
});
