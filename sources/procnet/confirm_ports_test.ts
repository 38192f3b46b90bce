import { assertEquals } from "../../tests/assert.ts";
import { confirmScan } from "./confirm_ports.ts";

Deno.test("confirmScan() publishes a key seen for confirmMs and drops it at once", () => {
  const first = confirmScan(new Map(), ["a", "b"], 1000, 25);
  assertEquals(first.confirmed, new Set());
  assertEquals(first.confirmAt, 1025);
  // A scan 10 ms later (a kernel event) does not confirm yet.
  const early = confirmScan(first.sightings, ["a", "b", "c"], 1010, 25);
  assertEquals(early.confirmed, new Set());
  assertEquals(early.confirmAt, 1025);
  const second = confirmScan(early.sightings, ["a", "b", "c"], 1025, 25);
  assertEquals(second.confirmed, new Set(["a", "b"]));
  assertEquals(second.confirmAt, 1035);
  // b missed one scan: it starts over.
  const gap = confirmScan(second.sightings, ["a", "c"], 1030, 25);
  assertEquals(gap.confirmed, new Set(["a"]));
  const back = confirmScan(gap.sightings, ["a", "b", "c"], 1040, 25);
  assertEquals(back.confirmed, new Set(["a", "c"]));
  assertEquals(back.confirmAt, 1065);
  const none = confirmScan(back.sightings, [], 1100, 25);
  assertEquals(none, {
    sightings: new Map<string, number>(),
    confirmed: new Set<string>(),
  });
});

Deno.test("confirmScan() never confirms within one scan, even with confirmMs 0", () => {
  const first = confirmScan(new Map(), ["a"], 5, 0);
  assertEquals(first.confirmed, new Set());
  assertEquals(
    confirmScan(first.sightings, ["a"], 6, 0).confirmed,
    new Set(["a"]),
  );
});
