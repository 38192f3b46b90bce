import { tracked as trackedBinding } from "../../tests/tracked.ts";
import { assertEquals } from "../../tests/assert.ts";
import { FakeClock } from "../../support/clock.ts";
import {
  type Binding,
  makeBinding,
  type Protocol,
} from "../../binding/binding.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { SERVED_REASON, serves, UnservedGate } from "./unserved_gate.ts";

const tracked = (
  hostIp: string,
  port: number,
  protocol: Protocol = "tcp",
): TrackedBinding =>
  trackedBinding(protocol, hostIp, port, { source: "iptables", ownerId: "r" });

function setUp(settleMs = 2000) {
  const clock = new FakeClock();
  const passed: string[] = [];
  let sockets: Binding[] = [];
  let looks = 0;
  const gate = new UnservedGate({
    settleMs,
    recheckMs: 30_000,
    clock,
    want: (binding) => passed.push(`+${binding.key}`),
    unwant: (key) => passed.push(`-${key}`),
    listening: () => {
      looks++;
      return Promise.resolve(sockets);
    },
  });
  return {
    clock,
    gate,
    passed,
    looks: () => looks,
    listen: (...bindings: Binding[]) => void (sockets = bindings),
  };
}

Deno.test("UnservedGate gives an unserved binding to the listeners only after the settle time", async () => {
  const { clock, gate, passed, looks } = setUp();
  gate.want(tracked("0.0.0.0", 18081));
  // Looks every 200 ms; unserved from the first look (200) for 2 s.
  await clock.advance(2199);
  assertEquals(passed, []);
  assertEquals(gate.status().map((row) => row.state), ["pending"]);
  await clock.advance(1);
  assertEquals(passed, ["+tcp/0.0.0.0:18081"]);
  assertEquals(gate.status(), [], "the queue reports it from now on");
  assertEquals(looks(), 11);
  gate.unwant("tcp/0.0.0.0:18081");
  assertEquals(passed, ["+tcp/0.0.0.0:18081", "-tcp/0.0.0.0:18081"]);
});

Deno.test("UnservedGate never takes a port something in the VM listens on, and looks again later", async () => {
  const { clock, gate, passed, listen } = setUp();
  // docker-proxy binds the port just after dockerd added the DNAT rule.
  gate.want(tracked("0.0.0.0", 20996));
  gate.want(tracked("127.0.0.1", 20997, "udp"));
  await clock.advance(50);
  listen(
    makeBinding("tcp", "::", 20996),
    makeBinding("udp", "0.0.0.0", 20997),
  );
  await clock.advance(2200);
  assertEquals(passed, []);
  assertEquals(
    gate.status().map((row) => [row.key, row.state, row.reason]),
    [
      ["tcp/0.0.0.0:20996", "skipped", SERVED_REASON],
      ["udp/127.0.0.1:20997", "skipped", SERVED_REASON],
    ],
  );
  // The proxy went away but the rule stayed: from the next look on it
  // settles, then gets its listener.
  listen();
  await clock.advance(28_000); // the recheck at 30,200 finds it unserved
  assertEquals(passed, []);
  await clock.advance(2000);
  assertEquals(passed, ["+tcp/0.0.0.0:20996", "+udp/127.0.0.1:20997"]);
});

Deno.test("UnservedGate drops a binding unwanted while it settles; a burst costs one look", async () => {
  const { clock, gate, passed, looks } = setUp();
  for (let port = 19000; port < 19100; port++) {
    gate.want(tracked("0.0.0.0", port));
  }
  gate.unwant("tcp/0.0.0.0:19000");
  await clock.advance(2200);
  assertEquals(passed.length, 99);
  assertEquals(passed.includes("+tcp/0.0.0.0:19000"), false);
  assertEquals(looks(), 11, "one look per round for all of them");
});

Deno.test("UnservedGate opens nothing while the sockets cannot be read", async () => {
  const clock = new FakeClock();
  const passed: string[] = [];
  let broken = true;
  const gate = new UnservedGate({
    clock,
    want: (binding) => passed.push(binding.key),
    unwant: () => {},
    listening: () =>
      broken ? Promise.reject(new Error("EMFILE")) : Promise.resolve([]),
  });
  gate.want(tracked("0.0.0.0", 80));
  await clock.advance(5000);
  assertEquals(passed, []);
  broken = false;
  await clock.advance(10_000);
  assertEquals(passed, ["tcp/0.0.0.0:80"]);
  gate.close();
});

Deno.test("UnservedGate: a port served now and then (a container restarting) never gets a listener", async () => {
  const { clock, gate, passed, listen } = setUp();
  gate.want(tracked("0.0.0.0", 21000));
  // docker restart in a loop: the proxy is down 300 ms of every 900 ms.
  for (let ms = 0; ms < 60_000; ms += 100) {
    if (ms % 900 < 300) listen();
    else listen(makeBinding("tcp", "0.0.0.0", 21000));
    await clock.advance(100);
  }
  assertEquals(passed, []);
});

Deno.test("serves(): same protocol and port, overlapping addresses", () => {
  const b = (protocol: Protocol, ip: string, port = 80) =>
    makeBinding(protocol, ip, port);
  assertEquals(serves(b("tcp", "0.0.0.0"), b("tcp", "127.0.0.1")), true);
  assertEquals(serves(b("tcp", "127.0.0.1"), b("tcp", "0.0.0.0")), true);
  assertEquals(serves(b("tcp", "::"), b("tcp", "0.0.0.0")), true);
  assertEquals(serves(b("tcp", "10.0.0.1"), b("tcp", "127.0.0.1")), false);
  assertEquals(serves(b("udp", "0.0.0.0"), b("tcp", "0.0.0.0")), false);
  assertEquals(serves(b("tcp", "0.0.0.0", 81), b("tcp", "0.0.0.0")), false);
});
