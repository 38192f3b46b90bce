/**
 * A message counts as delivered only when the peer read it and closed in
 * order: peers that reset the connection or never read are failures. The
 * agent sends through the libc shim (TCP, unix, and vsock's calls), which
 * sees a reset; Deno's sockets (the fallback for host names) report a reset
 * as an end of stream, so there only the silent peer is caught. These peers
 * are ours: no real program misbehaves this way on demand.
 */
import {
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../tests/assert.ts";
import { findLibcPath } from "../../support/libc.ts";
import { waitFor } from "../../tests/wait.ts";
import type { VtunnelTarget } from "../vtunnel_target.ts";
import { type MessageSender, sendOverStream } from "./send_message.ts";
import { inetAddress, libcSocketSender } from "./socket_sender.ts";

type Behaviour = "reads and closes" | "never reads";

/**
 * A peer on `listener` that treats every connection the same way;
 * `received` holds, per connection read to its end, the text it carried.
 */
function servePeer(listener: Deno.Listener, behaviour: Behaviour) {
  const open: Deno.Conn[] = [];
  const received: string[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      if (behaviour === "reads and closes") {
        (async () => {
          const chunks: Uint8Array[] = [];
          for await (const chunk of conn.readable) chunks.push(chunk);
          received.push(new TextDecoder().decode(concat(chunks)));
        })().catch(() => {});
      }
      // "never reads": the connection stays open, unread.
    }
  })().catch(() => {});
  return {
    received,
    async close() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await done;
    },
  };
}

const MESSAGE = new TextEncoder().encode('{"remove":false}\n');

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** What each peer read, per connection: TCP's and the unix socket's. */
interface PeersRead {
  readonly tcp: readonly string[];
  readonly unix: readonly string[];
}

async function withPeers(
  behaviour: Behaviour,
  body: (
    tcp: VtunnelTarget,
    unixPath: string,
    read: PeersRead,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const tcpListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const unixListener = Deno.listen({
    transport: "unix",
    path: `${dir}/peer.sock`,
  });
  const peers = [
    servePeer(tcpListener, behaviour),
    servePeer(unixListener, behaviour),
  ];
  try {
    await body(
      {
        transport: "tcp",
        hostname: "127.0.0.1",
        port: (tcpListener.addr as Deno.NetAddr).port,
      },
      `${dir}/peer.sock`,
      { tcp: peers[0]!.received, unix: peers[1]!.received },
    );
  } finally {
    for (const peer of peers) await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const refuseNames: MessageSender = () =>
  Promise.reject(new Error("a host name: not expected here"));

function senders(): MessageSender {
  return libcSocketSender(findLibcPath()!, refuseNames);
}

Deno.test("inetAddress() packs sockaddr_in and sockaddr_in6", () => {
  assertEquals(
    [...inetAddress("127.0.0.1", 3040)!],
    [2, 0, 0x0b, 0xe0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
  );
  const v6 = inetAddress("::1", 80)!;
  assertEquals(v6.length, 28);
  assertEquals([...v6.subarray(0, 4)], [10, 0, 0, 80]);
  assertEquals([...v6.subarray(8, 24)], [...new Array(15).fill(0), 1]);
  assertEquals(inetAddress("vtunnel.local", 80), undefined);
});

Deno.test("a peer that reads and closes in order: each send resolves, and the peer read exactly the message once per connection", async () => {
  const send = senders();
  await withPeers("reads and closes", async (tcp, path, read) => {
    await send(tcp, MESSAGE, 2000);
    await send({ transport: "unix", path }, MESSAGE, 2000);
    await sendOverStream(tcp, MESSAGE, 2000);
    await waitFor(
      () => read.tcp.length === 2 && read.unix.length === 1,
      5_000,
      () => ` for three connections read: ${JSON.stringify(read)}`,
    );
    const text = new TextDecoder().decode(MESSAGE);
    assertEquals(read, { tcp: [text, text], unix: [text] });
  });
});

/**
 * A TCP peer that accepts one connection and resets it (SO_LINGER 0, then
 * close): Deno cannot make a reset, so this peer calls libc itself.
 */
function resettingPeer(): { port: number; done: Promise<void>; close(): void } {
  const lib = Deno.dlopen(findLibcPath()!, {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    listen: { parameters: ["i32", "i32"], result: "i32" },
    accept: {
      parameters: ["i32", "pointer", "pointer"],
      result: "i32",
      nonblocking: true,
    },
    setsockopt: {
      parameters: ["i32", "i32", "i32", "buffer", "u32"],
      result: "i32",
    },
    close: { parameters: ["i32"], result: "i32" },
  });
  // A free port: taken from the kernel, then bound again here.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const fd = lib.symbols.socket(2, 1, 0);
  if (lib.symbols.bind(fd, inetAddress("127.0.0.1", port)!, 16) !== 0) {
    throw new Error("the resetting peer cannot bind");
  }
  lib.symbols.listen(fd, 4);
  const done = (async () => {
    const conn = await lib.symbols.accept(fd, null, null);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const linger = new Int32Array([1, 0]); // l_onoff = 1, l_linger = 0
    lib.symbols.setsockopt(conn, 1, 13, new Uint8Array(linger.buffer), 8);
    lib.symbols.close(conn); // SO_LINGER 0: the kernel sends a reset
  })();
  return {
    port,
    done,
    close() {
      lib.symbols.close(fd);
      lib.close();
    },
  };
}

Deno.test("a peer that resets the connection after accept: a failure", async () => {
  const peer = resettingPeer();
  try {
    const error = await assertRejects(() =>
      senders()(
        { transport: "tcp", hostname: "127.0.0.1", port: peer.port },
        MESSAGE,
        2000,
      )
    );
    assertStringIncludes(error.message, "tcp://127.0.0.1");
    assertStringIncludes(error.message, "reset");
    await peer.done;
  } finally {
    peer.close();
  }
});

Deno.test("a peer that never reads: a failure at the timeout", async () => {
  const send = senders();
  await withPeers("never reads", async (tcp, path) => {
    for (const target of [tcp, { transport: "unix", path } as const]) {
      const error = await assertRejects(() => send(target, MESSAGE, 300));
      assertStringIncludes(
        error.message,
        "did not read the message and close within 300 ms",
      );
    }
    // Deno's sockets (host names) catch the silent peer too.
    const fallback = await assertRejects(() =>
      sendOverStream(tcp, MESSAGE, 300)
    );
    assertStringIncludes(fallback.message, "within 300 ms");
  });
});
