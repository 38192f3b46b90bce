import { tracked as trackedBinding } from "../tests/tracked.ts";
import fc from "fast-check";
import { assert, assertEquals } from "../tests/assert.ts";
import { FakeClock, flushMicrotasks } from "../support/clock.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";
import { DeliveryQueue } from "./delivery_queue.ts";
import type { Forwarder } from "./forwarder.ts";

const tracked = (port: number, containerPort = 80): TrackedBinding =>
  trackedBinding("tcp", "0.0.0.0", port, {
    ownerId: `c${port}`,
    containerPort,
  });

/** A forwarder the test scripts (`failNext`, `gate`, a host side), recording its calls. */
class ScriptedForwarder implements Forwarder {
  readonly name: string;
  readonly concurrency: number;
  calls: string[] = [];
  hostSide = new Set<string>();
  failNext = 0;
  gate?: Promise<void>;
  running = new Set<string>();
  overlapped = false;

  constructor(name = "rec", concurrency = 8) {
    this.name = name;
    this.concurrency = concurrency;
  }

  add(binding: TrackedBinding): Promise<void> {
    return this.#run("+", binding);
  }

  remove(binding: TrackedBinding): Promise<void> {
    return this.#run("-", binding);
  }

  identity(binding: TrackedBinding): string {
    return `${binding.key}>${binding.holders[0]?.entry.containerPort}`;
  }

  async #run(sign: string, binding: TrackedBinding): Promise<void> {
    if (this.running.has(binding.key)) this.overlapped = true;
    this.running.add(binding.key);
    try {
      await this.gate;
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error("host side down");
      }
      this.calls.push(sign + binding.key);
      if (sign === "+") this.hostSide.add(binding.key);
      else this.hostSide.delete(binding.key);
    } finally {
      this.running.delete(binding.key);
    }
  }
}

function newQueue(forwarders: Forwarder[], clock: FakeClock): DeliveryQueue {
  return new DeliveryQueue(forwarders, {
    clock,
    backoff: { initialMs: 100, maxMs: 1000, jitter: 0 },
  });
}

Deno.test("DeliveryQueue ends with the true set after N failures", async () => {
  const clock = new FakeClock();
  const forwarder = new ScriptedForwarder();
  forwarder.failNext = 7;
  const queue = newQueue([forwarder], clock);
  queue.want("rec", tracked(1));
  queue.want("rec", tracked(2));
  await clock.advance(150);
  queue.unwant("rec", "tcp/0.0.0.0:1");
  queue.want("rec", tracked(3));
  await clock.advance(5000);
  assert(queue.isCaughtUp);
  assertEquals([...forwarder.hostSide].sort(), [
    "tcp/0.0.0.0:2",
    "tcp/0.0.0.0:3",
  ]);
  assertEquals(queue.appliedKeys("rec"), queue.desiredKeys("rec"));
  assertEquals(forwarder.failNext, 0);
  await queue.close();
});

Deno.test("DeliveryQueue cancels an add and a remove both still pending", async () => {
  const clock = new FakeClock();
  const forwarder = new ScriptedForwarder("rec", 1);
  let open!: () => void;
  forwarder.gate = new Promise((resolve) => open = resolve);
  const queue = newQueue([forwarder], clock);
  queue.want("rec", tracked(1)); // in flight, held at the gate
  queue.want("rec", tracked(2)); // pending behind it
  queue.unwant("rec", "tcp/0.0.0.0:2");
  open();
  await queue.caughtUp();
  assertEquals(forwarder.calls, ["+tcp/0.0.0.0:1"]);
  await queue.close();
});

Deno.test("DeliveryQueue keeps the order per binding", async () => {
  const clock = new FakeClock();
  const forwarder = new ScriptedForwarder();
  let open!: () => void;
  forwarder.gate = new Promise((resolve) => open = resolve);
  const queue = newQueue([forwarder], clock);
  queue.want("rec", tracked(1));
  queue.unwant("rec", "tcp/0.0.0.0:1");
  queue.want("rec", tracked(1, 8080));
  open();
  await queue.caughtUp();
  // The first add was in flight; the remove/add that followed collapse into
  // "replace with the new details", applied in order.
  assertEquals(forwarder.calls, [
    "+tcp/0.0.0.0:1",
    "-tcp/0.0.0.0:1",
    "+tcp/0.0.0.0:1",
  ]);
  assertEquals(forwarder.overlapped, false);
  await queue.close();
});

Deno.test("DeliveryQueue gives a recovered forwarder the truth, not history", async () => {
  const clock = new FakeClock();
  const forwarder = new ScriptedForwarder();
  forwarder.failNext = 1_000;
  const queue = newQueue([forwarder], clock);
  for (let port = 1; port <= 5; port++) queue.want("rec", tracked(port));
  await clock.advance(2000);
  for (let port = 1; port <= 4; port++) {
    queue.unwant("rec", `tcp/0.0.0.0:${port}`);
  }
  assertEquals(queue.status().map((row) => row.state), ["retrying"]);
  forwarder.failNext = 0;
  await clock.advance(2000);
  assertEquals(forwarder.calls, ["+tcp/0.0.0.0:5"]);
  await queue.close();
});

Deno.test("DeliveryQueue passes the binding as added to remove", async () => {
  const clock = new FakeClock();
  const removed: TrackedBinding[] = [];
  const queue = newQueue([{
    name: "f",
    add: () => Promise.resolve(),
    remove: (binding) => {
      removed.push(binding);
      return Promise.resolve();
    },
  }], clock);
  queue.want("f", tracked(1, 1234));
  await queue.caughtUp();
  queue.unwant("f", "tcp/0.0.0.0:1");
  await queue.caughtUp();
  assertEquals(removed[0]?.holders[0]?.entry.containerPort, 1234);
  await queue.close();
});

Deno.test("DeliveryQueue keeps forwarders independent", async () => {
  const clock = new FakeClock();
  const broken = new ScriptedForwarder("broken");
  broken.failNext = 1_000;
  const healthy = new ScriptedForwarder("healthy");
  const queue = newQueue([broken, healthy], clock);
  queue.want("broken", tracked(1));
  queue.want("healthy", tracked(1));
  await clock.advance(500);
  assertEquals(healthy.calls, ["+tcp/0.0.0.0:1"]);
  assertEquals(queue.isCaughtUp, false);
  const status = queue.status().find((row) => row.forwarder === "broken");
  assertEquals(status?.state, "retrying");
  assertEquals(status?.lastError, "host side down");
  await queue.close();
});

Deno.test("DeliveryQueue.caughtUp() resolves on abort while retrying", async () => {
  const clock = new FakeClock();
  const broken = new ScriptedForwarder();
  broken.failNext = 1_000;
  const queue = newQueue([broken], clock);
  queue.want("rec", tracked(1));
  const controller = new AbortController();
  const settled = queue.caughtUp(controller.signal);
  await flushMicrotasks();
  controller.abort();
  await settled;
  assertEquals(queue.isCaughtUp, false);
  await queue.close();
  assertEquals(clock.pending, 0);
});

Deno.test("DeliveryQueue converges under random changes and failures", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          port: fc.integer({ min: 1, max: 5 }),
          want: fc.boolean(),
          containerPort: fc.integer({ min: 1, max: 2 }),
          failures: fc.integer({ min: 0, max: 3 }),
          waitMs: fc.constantFrom(0, 0, 50, 400),
        }),
        { maxLength: 25 },
      ),
      async (steps) => {
        const clock = new FakeClock();
        const forwarder = new ScriptedForwarder("rec", 2);
        const queue = newQueue([forwarder], clock);
        const truth = new Map<string, TrackedBinding>();
        for (const step of steps) {
          forwarder.failNext += step.failures;
          const binding = tracked(step.port, step.containerPort);
          if (step.want) {
            truth.set(binding.key, binding);
            queue.want("rec", binding);
          } else {
            truth.delete(binding.key);
            queue.unwant("rec", binding.key);
          }
          await clock.advance(step.waitMs);
        }
        forwarder.failNext = 0;
        await clock.advance(10_000);
        assert(queue.isCaughtUp, "not settled");
        assertEquals([...forwarder.hostSide].sort(), [...truth.keys()].sort());
        assertEquals(forwarder.overlapped, false);
        // Per binding, successful calls alternate +, -, +, … from +.
        const last = new Map<string, string>();
        for (const call of forwarder.calls) {
          const key = call.slice(1);
          assert(last.get(key) !== call[0], `repeated ${call}`);
          if (!last.has(key)) assertEquals(call[0], "+");
          last.set(key, call[0]!);
        }
        await queue.close();
      },
    ),
    { numRuns: 60 },
  );
});

/** A forwarder whose host side can be read, like the host-switch API. */
class ReadableForwarder extends ScriptedForwarder {
  readFailures = 0;
  reads = 0;
  readApplied(): Promise<TrackedBinding[]> {
    this.reads++;
    if (this.readFailures > 0) {
      this.readFailures--;
      return Promise.reject(new Error("API down"));
    }
    return Promise.resolve(
      [...this.hostSide].map((key) => tracked(Number(key.split(":")[1]))),
    );
  }
}

Deno.test("DeliveryQueue reads a readable host side at start and removes stale entries", async () => {
  const clock = new FakeClock();
  const forwarder = new ReadableForwarder();
  forwarder.hostSide = new Set(["tcp/0.0.0.0:1", "tcp/0.0.0.0:2"]); // left by an earlier run
  forwarder.readFailures = 2;
  const queue = newQueue([forwarder], clock);
  queue.want("rec", tracked(2));
  queue.want("rec", tracked(3));
  await clock.advance(1000);
  assert(queue.isCaughtUp);
  assertEquals(forwarder.reads, 3);
  assertEquals(forwarder.calls.sort(), ["+tcp/0.0.0.0:3", "-tcp/0.0.0.0:1"]);
  assertEquals([...forwarder.hostSide].sort(), [
    "tcp/0.0.0.0:2",
    "tcp/0.0.0.0:3",
  ]);
  await queue.close();
});

Deno.test("DeliveryQueue re-reads the host side after a failed call", async () => {
  const clock = new FakeClock();
  const forwarder = new ReadableForwarder();
  const queue = newQueue([forwarder], clock);
  queue.want("rec", tracked(1));
  await clock.advance(10);
  assertEquals(forwarder.reads, 1);
  forwarder.failNext = 1;
  forwarder.hostSide.delete("tcp/0.0.0.0:1"); // the host side restarted, empty
  queue.want("rec", tracked(2));
  await clock.advance(1000);
  assertEquals(forwarder.reads, 2);
  assertEquals([...forwarder.hostSide].sort(), [
    "tcp/0.0.0.0:1",
    "tcp/0.0.0.0:2",
  ]);
  await queue.close();
});
