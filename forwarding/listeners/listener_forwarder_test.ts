import { tracked as trackedBinding } from "../../tests/tracked.ts";
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { bindingKey, type Protocol } from "../../binding/binding.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { findLibcPath, Libc } from "../../support/libc.ts";
import { isPublishing, parseProcNet } from "../../support/parse_proc_net.ts";
import { ListenerForwarder } from "./listener_forwarder.ts";

const tracked = (
  protocol: Protocol,
  hostIp: string,
  port: number,
): TrackedBinding =>
  trackedBinding(protocol, hostIp, port, {
    source: "iptables",
    ownerId: "rule-1",
    name: "web",
  });

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** The publishing sockets of this machine, read the way the procnet source reads them. */
function listening(): Set<string> {
  const libc = new Libc(findLibcPath()!);
  try {
    const keys = new Set<string>();
    for (
      const [table, protocol] of [["tcp", "tcp"], ["tcp6", "tcp"], [
        "udp",
        "udp",
      ]] as const
    ) {
      const text = new TextDecoder().decode(
        libc.readFile(`/proc/net/${table}`),
      );
      for (
        const socket of parseProcNet(text, protocol).sockets.filter(
          isPublishing,
        )
      ) {
        keys.add(bindingKey(socket.binding));
      }
    }
    return keys;
  } finally {
    libc.close();
  }
}

Deno.test("ListenerForwarder opens sockets that appear in /proc/net and closes them", async () => {
  const forwarder = new ListenerForwarder();
  const bindings = [
    tracked("tcp", "127.0.0.1", freePort()),
    tracked("tcp", "0.0.0.0", freePort()),
    tracked("tcp", "::", freePort()),
    tracked("udp", "127.0.0.1", freePort()),
  ];
  for (const binding of bindings) await forwarder.add(binding);
  await forwarder.add(bindings[0]!); // idempotent: no second socket
  const open = listening();
  for (const binding of bindings) {
    assert(open.has(binding.key), `${binding.key} not listening`);
  }
  assertEquals(forwarder.openKeys(), bindings.map((b) => b.key).sort());

  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: bindings[0]!.binding.hostPort,
  });
  const read = await conn.read(new Uint8Array(1));
  assertEquals(read, null, "closed at once");
  conn.close();

  await forwarder.remove(bindings[0]!);
  assert(!listening().has(bindings[0]!.key), "closed on remove");
  await forwarder.close();
  const after = listening();
  for (const binding of bindings) {
    assert(!after.has(binding.key), `${binding.key} left open`);
  }
});

Deno.test("ListenerForwarder reports a conflict with the owner's name", async () => {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const forwarder = new ListenerForwarder();
  try {
    const binding = tracked(
      "tcp",
      "127.0.0.1",
      (holder.addr as Deno.NetAddr).port,
    );
    await assertRejects(
      () => forwarder.add(binding),
      Error,
      `Cannot listen on ${binding.key} for iptables:web: the address is in use`,
    );
    assertEquals(forwarder.openKeys(), []);
  } finally {
    holder.close();
    await forwarder.close();
  }
});
