import { assertEquals } from "../tests/assert.ts";
import { FakeClock } from "../support/clock.ts";
import { type Binding, makeBinding } from "../binding/binding.ts";
import { PortTracker, type TrackerUpdate } from "../tracker/port_tracker.ts";
import { DiffRouter } from "./diff_router.ts";

/** A router over two forwarders that records every call; udp goes to "b" only. */
function recordedRouter(clock = new FakeClock()) {
  const calls: string[] = [];
  const router = new DiffRouter({
    forwarders: ["a", "b"],
    route: (tracked) => tracked.binding.protocol === "udp" ? ["b"] : ["a", "b"],
    want: (forwarder, tracked) =>
      calls.push(`want ${forwarder} ${tracked.key}`),
    unwant: (forwarder, key) => calls.push(`unwant ${forwarder} ${key}`),
    clock,
  });
  const tracker = new PortTracker();
  /** One tracker update, routed. */
  const feed = (change: TrackerUpdate) => router.apply(tracker.apply(change));
  /** `ownerId` of `source` holds `binding`. */
  const hold = (source: string, ownerId: string, binding: Binding) =>
    feed({ type: "upsert", source, ownerId, entries: [{ ownerId, binding }] });
  return { calls, router, clock, feed, hold };
}

const tcp80 = makeBinding("tcp", "0.0.0.0", 80);
const udp53 = makeBinding("udp", "0.0.0.0", 53);

Deno.test("DiffRouter: an added binding is wanted by its route's forwarders and unwanted by the others", () => {
  const { calls, feed } = recordedRouter();
  feed({
    type: "snapshot",
    source: "s",
    entries: [{ ownerId: "o1", binding: tcp80 }, {
      ownerId: "o1",
      binding: udp53,
    }],
  });
  assertEquals(calls.sort(), [
    "unwant a udp/0.0.0.0:53",
    "want a tcp/0.0.0.0:80",
    "want b tcp/0.0.0.0:80",
    "want b udp/0.0.0.0:53",
  ]);
});

Deno.test("DiffRouter: a changed binding is wanted again; a removed one unwanted by every forwarder", () => {
  const { calls, feed, hold } = recordedRouter();
  hold("s", "o1", tcp80);
  calls.length = 0;
  // A second holder changes the binding without adding it.
  hold("t", "o2", tcp80);
  assertEquals(calls, ["want a tcp/0.0.0.0:80", "want b tcp/0.0.0.0:80"]);
  calls.length = 0;
  feed({ type: "remove", source: "s", ownerId: "o1" });
  assertEquals(calls, ["want a tcp/0.0.0.0:80", "want b tcp/0.0.0.0:80"]);
  calls.length = 0;
  feed({ type: "remove", source: "t", ownerId: "o2" });
  assertEquals(calls, ["unwant a tcp/0.0.0.0:80", "unwant b tcp/0.0.0.0:80"]);
});

Deno.test("DiffRouter: appearedAt holds when each live binding appeared, on the clock given", async () => {
  const { router, clock, feed, hold } = recordedRouter();
  await clock.advance(1000);
  hold("s", "o1", tcp80);
  await clock.advance(500);
  hold("s", "o2", udp53);
  assertEquals([...router.appearedAt], [
    ["tcp/0.0.0.0:80", 1000],
    ["udp/0.0.0.0:53", 1500],
  ]);
  feed({ type: "remove", source: "s", ownerId: "o1" });
  assertEquals([...router.appearedAt.keys()], ["udp/0.0.0.0:53"]);
});
