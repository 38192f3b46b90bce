import { assertEquals } from "../../tests/assert.ts";
import { FakeClock } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { watchProcNet } from "./watch_proc_net.ts";
import type { ScanTrigger, WakeReason } from "../worker/rescan_loop.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

function table(...ports: number[]): string {
  return [
    HEADER,
    ...ports.map((port, i) =>
      `${i}: 00000000:${
        port.toString(16).padStart(4, "0")
      } 00000000:0000 0A 0:0 0:0 0 0 0 ${i}`
    ),
  ].join("\n");
}

function fakeFiles(initial: Record<string, string>) {
  const files = new Map(Object.entries(initial));
  const readFile = (path: string) => {
    const text = files.get(path);
    return text === undefined
      ? Promise.reject(new Deno.errors.NotFound(path))
      : Promise.resolve(text);
  };
  return { files, readFile };
}

function snapshotsOf(messages: SourceMessageBody[]): string[][] {
  return messages.flatMap((m) =>
    m.type === "snapshot" ? [m.entries.map((e) => e.ownerId)] : []
  );
}

Deno.test("watchProcNet() polling: confirms after confirmMs, removes at once", async () => {
  const clock = new FakeClock();
  const { files, readFile } = fakeFiles({ "/p/tcp": table(22, 8080) });
  const messages: SourceMessageBody[] = [];
  const controller = new AbortController();
  const done = watchProcNet(
    { root: "/p", intervalMs: 1000, ignorePorts: [22], confirmMs: 25 },
    (message) => messages.push(message),
    controller.signal,
    { readFile, clock },
  );
  await clock.advance(0);
  assertEquals(messages[0], {
    type: "status",
    state: "connected",
    reason: "polling every 1000 ms: /p is not the kernel's",
  });
  assertEquals(snapshotsOf(messages), [[]]);
  // The second look comes confirmMs later, not a scan interval later.
  await clock.advance(25);
  assertEquals(snapshotsOf(messages), [[], ["tcp/0.0.0.0:8080"]]);
  files.set("/p/tcp", table(8080, 9090)); // 9090 appears: not yet
  await clock.advance(1000);
  assertEquals(snapshotsOf(messages).length, 2);
  files.set("/p/tcp", table(8080)); // 9090 was a reservation socket
  await clock.advance(25);
  assertEquals(snapshotsOf(messages).length, 2);
  files.set("/p/tcp", table()); // removal is immediate
  await clock.advance(1000);
  assertEquals(snapshotsOf(messages).at(-1), []);
  files.delete("/p/tcp");
  await clock.advance(1000);
  assertEquals(messages.at(-1)?.type, "status");
  assertEquals(messages.at(-1)?.type === "status" && messages.at(-1), {
    type: "status",
    state: "reconnecting",
    reason: "Cannot read /p: none of its tables is there",
  });
  controller.abort();
  await clock.advance(1000);
  await done;
});

/** A trigger the test fires by hand (stands in for the kernel's events). */
function handTrigger() {
  const timeouts: number[] = [];
  let fire: ((reason: WakeReason) => void) | undefined;
  let closed = 0;
  const trigger: ScanTrigger = {
    description: "woken by hand",
    events: true,
    next(timeoutMs) {
      timeouts.push(timeoutMs);
      return new Promise((resolve) => fire = resolve);
    },
    close: () => void closed++,
  };
  return {
    trigger,
    timeouts,
    fire: (reason: WakeReason) => fire?.(reason),
    closed: () => closed,
  };
}

Deno.test("watchProcNet() with events: waits for the rescan, or the confirmation when one is due", async () => {
  const clock = new FakeClock();
  const { files, readFile } = fakeFiles({ "/p/tcp": table() });
  const messages: SourceMessageBody[] = [];
  const controller = new AbortController();
  const hand = handTrigger();
  const done = watchProcNet(
    {
      root: "/p",
      intervalMs: 1000,
      ignorePorts: [],
      confirmMs: 25,
      rescanMs: 30_000,
    },
    (message) => messages.push(message),
    controller.signal,
    { readFile, clock, trigger: hand.trigger },
  );
  await clock.advance(0);
  assertEquals(messages[0], {
    type: "status",
    state: "connected",
    reason: "woken by hand",
  });
  assertEquals(hand.timeouts, [30_000]); // nothing to confirm: the safety net
  files.set("/p/tcp", table(8080));
  await clock.advance(7);
  hand.fire("event");
  await clock.advance(0);
  assertEquals(hand.timeouts, [30_000, 25]); // the confirmation is due
  await clock.advance(25);
  hand.fire("timeout");
  await clock.advance(0);
  assertEquals(snapshotsOf(messages), [[], ["tcp/0.0.0.0:8080"]]);
  assertEquals(hand.timeouts.at(-1), 30_000);
  files.set("/p/tcp", table());
  hand.fire("event");
  await clock.advance(0);
  assertEquals(snapshotsOf(messages).at(-1), []);
  hand.fire("stopped");
  await done;
  assertEquals(hand.closed(), 1);
});

Deno.test("watchProcNet() falls back to polling when the kernel events fail", async () => {
  const clock = new FakeClock();
  const { readFile } = fakeFiles({ "/p/tcp": table(8080) });
  const messages: SourceMessageBody[] = [];
  const controller = new AbortController();
  let closed = 0;
  const failing: ScanTrigger = {
    description: "woken by hand",
    events: true,
    next: () => Promise.reject(new Error("the perf event descriptors failed")),
    close: () => void closed++,
  };
  const done = watchProcNet(
    { root: "/p", intervalMs: 500, ignorePorts: [], confirmMs: 25 },
    (message) => messages.push(message),
    controller.signal,
    { readFile, clock, trigger: failing },
  );
  await clock.advance(0);
  await clock.advance(0);
  assertEquals(closed, 1);
  await clock.advance(25);
  assertEquals(
    messages.filter((m) => m.type === "status"),
    [
      { type: "status", state: "connected", reason: "woken by hand" },
      {
        type: "status",
        state: "connected",
        reason:
          "polling every 500 ms: kernel events failed (the perf event descriptors failed)",
      },
    ],
  );
  assertEquals(snapshotsOf(messages), [[], ["tcp/0.0.0.0:8080"]]);
  controller.abort();
  await clock.advance(500);
  await done;
});
