import { assertEquals } from "../tests/assert.ts";
import { FakeClock } from "../support/clock.ts";
import { tracked } from "../tests/tracked.ts";
import { SettleGate } from "./settle_gate.ts";

function gate() {
  const clock = new FakeClock();
  const calls: string[] = [];
  const settle = new SettleGate({
    forwarder: "loopback-relay",
    settleMs: 2000,
    clock,
    want: (binding) =>
      calls.push(`want ${binding.key} ${binding.holders[0]?.entry.name ?? ""}`),
    unwant: (key) => calls.push(`unwant ${key}`),
  });
  return { clock, calls, settle };
}

Deno.test("SettleGate passes a binding wanted for the settle time, and never one an engine claims sooner", async () => {
  const { clock, calls, settle } = gate();
  const docker = tracked("tcp", "127.0.0.1", 18501, { source: "procnet" });
  const vm = tracked("tcp", "127.0.0.1", 18510, {
    source: "procnet",
    name: "first",
  });
  settle.want(docker);
  settle.want(vm);
  assertEquals(settle.status().map((row) => [row.key, row.state]), [
    [docker.key, "pending"],
    [vm.key, "pending"],
  ]);
  await clock.advance(1999);
  // The engine's claim takes the first off the route before it settles.
  settle.unwant(docker.key);
  // Wanted again while waiting: the newest binding is the one passed.
  settle.want(
    tracked("tcp", "127.0.0.1", 18510, { source: "procnet", name: "second" }),
  );
  assertEquals(calls, []);
  await clock.advance(1);
  assertEquals(calls, [`want ${vm.key} second`]);
  assertEquals(settle.status(), []);
  await clock.advance(10_000);
  assertEquals(calls, [`want ${vm.key} second`]);
});

Deno.test("SettleGate updates a passed binding at once and withdraws it when unwanted", async () => {
  const { clock, calls, settle } = gate();
  const vm = tracked("udp", "::1", 5353, { source: "procnet", name: "a" });
  settle.want(vm);
  await clock.advance(2000);
  settle.want(tracked("udp", "::1", 5353, { source: "procnet", name: "b" }));
  settle.unwant(vm.key);
  settle.unwant(vm.key);
  assertEquals(calls, [
    `want ${vm.key} a`,
    `want ${vm.key} b`,
    `unwant ${vm.key}`,
  ]);
  // Wanted anew after that: it waits the settle time again.
  settle.want(vm);
  settle.close();
  await clock.advance(5000);
  assertEquals(calls.length, 3);
});
