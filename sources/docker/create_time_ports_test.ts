import { assertEquals } from "../../tests/assert.ts";
import { makeBinding, type PortEntry } from "../../binding/binding.ts";
import { CreateTimePorts, takenBack } from "./create_time_ports.ts";

function entry(ownerId: string, hostIp: string, hostPort: number): PortEntry {
  return { ownerId, binding: makeBinding("tcp", hostIp, hostPort) };
}

Deno.test("CreateTimePorts learns, forgets, and drops the least recently learnt past its bound", () => {
  const known = new CreateTimePorts(2);
  known.learn("a", [entry("a", "", 1)]);
  known.learn("b", []);
  assertEquals(known.certain("a"), [entry("a", "", 1)]);
  assertEquals(known.certain("b"), [], "known to publish nothing for certain");
  assertEquals(known.certain("c"), undefined, "unknown");
  known.learn("a", [entry("a", "", 2)]); // learnt again: now the newest
  known.learn("c", []);
  assertEquals(known.certain("b"), undefined, "the oldest went");
  assertEquals(known.certain("a"), [entry("a", "", 2)]);
  known.forget("a");
  assertEquals(known.certain("a"), undefined);
  assertEquals(known.size, 1);
});

Deno.test("takenBack() names posted bindings the confirmation lacks, never additions", () => {
  const posted = [entry("c", "", 80), entry("c", "127.0.0.1", 81)];
  assertEquals(
    takenBack(posted, [
      { ...entry("c", "", 80), containerIps: ["172.17.0.2"] },
      entry("c", "::", 80),
      entry("c", "127.0.0.1", 81),
    ]),
    [],
    "the :: twin is an addition",
  );
  assertEquals(takenBack(posted, [entry("c", "", 80)]), [
    "tcp/127.0.0.1:81",
  ]);
  assertEquals(takenBack([], [entry("c", "", 80)]), []);
});
