import { assertEquals } from "../../tests/assert.ts";
import { FakeClock } from "../../support/clock.ts";
import { SCAN_SPACING, ScanPacing } from "./scan_pacing.ts";

Deno.test("ScanPacing: the first scan starts at once", () => {
  assertEquals(new ScanPacing(new FakeClock()).delayMs(), 0);
});

Deno.test("ScanPacing: the next scan waits SCAN_SPACING times the last one's duration from its start", async () => {
  const clock = new FakeClock();
  const pacing = new ScanPacing(clock);
  await clock.advance(1000);
  assertEquals(pacing.started(), 1000);
  await clock.advance(50); // a 50 ms scan
  assertEquals(pacing.ended(), 1050);
  assertEquals(pacing.delayMs(), 1000 + SCAN_SPACING * 50 - 1050);
  await clock.advance(1000);
  assertEquals(pacing.delayMs(), 0, "long after it: at once");
  assertEquals(pacing.lastStartedAt, 1000);
});
