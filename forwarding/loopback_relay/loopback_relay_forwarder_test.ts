import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { tracked } from "../../tests/tracked.ts";
import { waitFor } from "../../tests/wait.ts";
import { readAllText } from "../../tests/read_all.ts";
import {
  LoopbackRelayForwarder,
  NOT_LOOPBACK_REASON,
} from "./loopback_relay_forwarder.ts";

/** Any 127/8 address is this machine's: it stands in for the tap address. */
const TAP = "127.0.0.2";

/**
 * A loopback server that answers each connection with what it read, upper
 * case, once the client has ended its writing, then "bye" and closes: it
 * needs the half-close to reach it, and the client its answer after that.
 */
function upperCaseServer(hostname: string) {
  const listener = Deno.listen({ hostname, port: 0 });
  const served = (async () => {
    for await (const conn of listener) {
      const text = await readAllText(conn);
      await conn.write(new TextEncoder().encode(`${text.toUpperCase()} bye`));
      conn.close();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      await served;
    },
  };
}

async function askThroughRelay(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: TAP, port });
  await conn.write(new TextEncoder().encode(text));
  await conn.closeWrite();
  const answer = await readAllText(conn);
  conn.close();
  return answer;
}

Deno.test("LoopbackRelayForwarder relays TCP from the tap address into 127.0.0.1 and [::1], both ways, half-close kept, and closes with the binding", async (t) => {
  for (const hostIp of ["127.0.0.1", "::1"]) {
    await t.step(hostIp, async () => {
      const server = upperCaseServer(hostIp);
      const relay = new LoopbackRelayForwarder({ tapIp: TAP });
      const binding = tracked("tcp", hostIp, server.port, {
        source: "procnet",
      });
      try {
        await relay.add(binding);
        assert(relay.relaying(binding.key));
        assertEquals(await askThroughRelay(server.port, "hello"), "HELLO bye");
        assertEquals(await askThroughRelay(server.port, "again"), "AGAIN bye");
        assertEquals(relay.openKeys(), [`tcp/${TAP}:${server.port}`]);
        await relay.remove(binding);
        assert(!relay.relaying(binding.key));
        await assertRejects(
          () => Deno.connect({ hostname: TAP, port: server.port }),
          Deno.errors.ConnectionRefused,
        );
        // Still reported for a while: a scan read before the close may arrive.
        assertEquals(relay.openKeys(), [`tcp/${TAP}:${server.port}`]);
      } finally {
        await relay.close();
        await server.close();
      }
    });
  }
});

Deno.test("LoopbackRelayForwarder relays UDP with a session per peer, each answered on its own, closed when idle", async () => {
  const server = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const port = (server.addr as Deno.NetAddr).port;
  const echoing = (async () => {
    for (;;) {
      const [data, from] = await server.receive();
      await server.send(
        new TextEncoder().encode(`echo ${new TextDecoder().decode(data)}`),
        from,
      );
    }
  })().catch(() => {});
  const relay = new LoopbackRelayForwarder({
    tapIp: TAP,
    udp: { idleMs: 200 },
  });
  const binding = tracked("udp", "127.0.0.1", port, { source: "procnet" });
  const peers = [0, 1].map(() =>
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 })
  );
  try {
    await relay.add(binding);
    const to: Deno.NetAddr = { transport: "udp", hostname: TAP, port };
    for (const [index, peer] of peers.entries()) {
      await peer.send(new TextEncoder().encode(`peer ${index}`), to);
    }
    for (const [index, peer] of peers.entries()) {
      const [reply, from] = await peer.receive();
      assertEquals(new TextDecoder().decode(reply), `echo peer ${index}`);
      assertEquals((from as Deno.NetAddr).hostname, TAP);
    }
    // The listening socket and one session socket per peer are the relay's own.
    assertEquals(relay.openKeys().length, 3);
    assert(relay.openKeys().includes(`udp/${TAP}:${port}`));
    assertEquals(relay.sessions(binding.key), 2);
    // Idle sessions end (200 ms); the relay itself stays and opens a new one.
    await waitFor(() => relay.sessions(binding.key) === 0, 5000);
    assert(relay.relaying(binding.key));
    await peers[0]!.send(new TextEncoder().encode("still here"), to);
    const [reply] = await peers[0]!.receive();
    assertEquals(new TextDecoder().decode(reply), "echo still here");
    assertEquals(relay.sessions(binding.key), 1);
    await relay.remove(binding);
  } finally {
    for (const peer of peers) peer.close();
    await relay.close();
    server.close();
    await echoing;
  }
});

Deno.test("LoopbackRelayForwarder opens no relay where the tap address is served already (a dual-stack [::] socket)", async () => {
  const dualStack = Deno.listen({ hostname: "::", port: 0 });
  const port = (dualStack.addr as Deno.NetAddr).port;
  const relay = new LoopbackRelayForwarder({ tapIp: TAP });
  const binding = tracked("tcp", "::", port, { source: "procnet" });
  try {
    await relay.add(binding);
    assert(!relay.relaying(binding.key));
    assertEquals(relay.openKeys(), []);
    const conn = await Deno.connect({ hostname: TAP, port });
    const accepted = await dualStack.accept();
    conn.close();
    accepted.close();
    await relay.remove(binding);
  } finally {
    dualStack.close();
    await relay.close();
  }
});

Deno.test("LoopbackRelayForwarder says when the tap address is not the VM's, and skips bindings that need no relay", async () => {
  // TEST-NET-1: assigned to no interface here, so the bind fails at once.
  const relay = new LoopbackRelayForwarder({ tapIp: "192.0.2.1" });
  await assertRejects(
    () => relay.add(tracked("tcp", "127.0.0.1", 18999, { source: "procnet" })),
    Error,
    "Cannot relay tcp/127.0.0.1:18999 at 192.0.2.1: 192.0.2.1 is not an address of this VM (see -tap-interface-ip)",
  );
  assertEquals(
    relay.skipReason(tracked("tcp", "0.0.0.0", 80)),
    NOT_LOOPBACK_REASON,
  );
  assertEquals(
    relay.skipReason(tracked("tcp", "10.0.0.5", 80)),
    NOT_LOOPBACK_REASON,
  );
  assertEquals(relay.skipReason(tracked("tcp", "::1", 80)), undefined);
  assertEquals(relay.skipReason(tracked("udp", "::", 53)), undefined);
  await relay.close();
});
