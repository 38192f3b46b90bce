import { assertEquals, assertRejects } from "./assert.ts";
import { waitFor } from "./wait.ts";

Deno.test("waitFor() waits for an async condition to hold", async () => {
  let looks = 0;
  await waitFor(() => Promise.resolve(++looks >= 3), 1_000);
  assertEquals(looks, 3);
});

// The reason, not a timeout, is in the error: it stopped before the 10 s.
Deno.test("waitFor() stops at once when there is no point waiting, saying why", async () => {
  await assertRejects(
    () =>
      waitFor(() => false, 10_000, () => " for port 80", {
        gaveUp: () => "the agent exited",
      }),
    Error,
    "the agent exited, while waiting for port 80",
  );
});

Deno.test("waitFor() times out naming what it waited for", async () => {
  await assertRejects(
    () => waitFor(() => false, 30, () => " for nothing", { intervalMs: 5 }),
    Error,
    "timed out after 30 ms waiting for nothing",
  );
});
