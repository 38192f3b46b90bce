import { assertEquals } from "../../tests/assert.ts";
import { FakeClock, flushMicrotasks } from "../../support/clock.ts";
import { keepConnected } from "./keep_connected.ts";
import type { SourceMessageBody } from "./worker_runtime.ts";

Deno.test("keepConnected() reports each state once and retries with capped backoff", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const emitted: SourceMessageBody[] = [];
  const firsts: boolean[] = [];
  const attempts: number[] = [];
  // Attempts 0-2 fail (daemon not up), 3 connects and breaks, 4 fails the
  // same way twice, 5 connects and stays.
  let attempt = 0;
  let release: () => void = () => {};
  const session = async (connected: () => boolean) => {
    const n = attempt++;
    attempts.push(clock.now());
    if (n < 3) throw new Error("no socket yet");
    if (n === 3) {
      firsts.push(connected());
      throw new Error("stream broke");
    }
    if (n < 6) throw new Error("refused");
    firsts.push(connected());
    await new Promise<void>((resolve) => release = resolve);
  };
  const done = keepConnected(
    "/s.sock",
    session,
    (m) => emitted.push(m),
    controller.signal,
    {
      clock,
      initialMs: 100,
      maxMs: 300,
    },
  );
  for (let i = 0; i < 10; i++) await clock.advance(400);
  assertEquals(emitted, [
    { type: "status", state: "waiting", reason: "/s.sock: no socket yet" },
    { type: "status", state: "connected" },
    { type: "status", state: "reconnecting", reason: "/s.sock: stream broke" },
    { type: "status", state: "reconnecting", reason: "/s.sock: refused" },
    { type: "status", state: "connected" },
  ]);
  assertEquals(firsts, [true, false]);
  // Delays before attempts 1..3: about 100, 200, 300 (capped), then the
  // backoff starts over after a connection.
  const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
  assertEquals(gaps.length, 6);
  assertEquals(gaps[2]! <= 300 * 1.2 + 1 && gaps[2]! >= 300 * 0.8 - 1, true);
  assertEquals(gaps[3]! < 150, true, `backoff restarted: ${gaps}`);
  controller.abort();
  release();
  await flushMicrotasks();
  await done;
});
