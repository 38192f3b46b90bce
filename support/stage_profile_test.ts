import { assertEquals } from "../tests/assert.ts";
import { setStageStamping, StageProfile, stampedNow } from "./stage_profile.ts";

Deno.test("StageProfile: a trace opens once, each stage is stamped once, close ends it", () => {
  const profile = new StageProfile();
  profile.mark("tcp/0.0.0.0:80", "queued", 5); // not open: dropped
  profile.open("tcp/0.0.0.0:80", "docker", { seen: 1, tracked: 2 });
  profile.open("tcp/0.0.0.0:80", "docker", { seen: 100 }); // already open
  profile.mark("tcp/0.0.0.0:80", "queued", 3);
  profile.mark("tcp/0.0.0.0:80", "queued", 30); // stamped already
  assertEquals(profile.traces(), []);
  profile.close("tcp/0.0.0.0:80", "delivered");
  profile.close("tcp/0.0.0.0:80", "delivered"); // closed already
  const [trace] = profile.traces();
  assertEquals(profile.traces().length, 1);
  assertEquals(trace!.key, "tcp/0.0.0.0:80");
  assertEquals(trace!.source, "docker");
  assertEquals(Object.keys(trace!.stamps), [
    "seen",
    "tracked",
    "queued",
    "delivered",
  ]);
  assertEquals(trace!.stamps.queued, 3);
});

Deno.test("StageProfile: the caller's stamps are copied, not kept", () => {
  const profile = new StageProfile();
  const stamps: Record<string, number> = { seen: 1 };
  profile.open("k", "s", stamps);
  stamps.seen = 99;
  profile.close("k", "delivered");
  assertEquals(profile.traces()[0]!.stamps.seen, 1);
});

Deno.test("StageProfile: stops opening traces at its bound", () => {
  const profile = new StageProfile();
  for (let i = 0; i < 10_050; i++) {
    profile.open(`k${i}`, "s", {});
    profile.close(`k${i}`, "delivered");
  }
  assertEquals(profile.traces().length, 10_000);
});

Deno.test("stampedNow() adds a stamp only while stamping is on", () => {
  try {
    assertEquals(stampedNow({ seen: 1 }, "looked up"), undefined);
    setStageStamping(true);
    const stamped = stampedNow({ seen: 1 }, "looked up")!;
    assertEquals(Object.keys(stamped), ["seen", "looked up"]);
    assertEquals(typeof stamped["looked up"], "number");
  } finally {
    setStageStamping(false);
  }
});
