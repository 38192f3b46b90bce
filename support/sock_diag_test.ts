import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import { findLibcPath, Libc } from "./libc.ts";
import { ignoreUnless } from "../tests/requirements.ts";
import { bindingKey } from "../binding/binding.ts";
import {
  decodeDiagReply,
  DIAG_QUERIES,
  encodeDiagRequest,
  SockDiag,
} from "./sock_diag.ts";

/** One SOCK_DIAG_BY_FAMILY message as the kernel sends it. */
function diagMessage(options: {
  family: 2 | 10;
  state: number;
  port: number;
  address: number[];
  remotePort?: number;
  inode?: number;
}): Uint8Array {
  const bytes = new Uint8Array(16 + 72);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, 20, true);
  bytes[16] = options.family;
  bytes[17] = options.state;
  view.setUint16(20, options.port, false);
  view.setUint16(22, options.remotePort ?? 0, false);
  bytes.set(options.address, 24);
  view.setUint32(16 + 68, options.inode ?? 1234, true);
  return bytes;
}

function done(): Uint8Array {
  const bytes = new Uint8Array(20);
  new DataView(bytes.buffer).setUint32(0, 20, true);
  new DataView(bytes.buffer).setUint16(4, 3, true);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

Deno.test("encodeDiagRequest() asks for LISTEN tcp and unconnected udp dumps", () => {
  const tcp = new DataView(
    encodeDiagRequest({ family: 6, protocol: "tcp" }, 7).buffer,
  );
  assertEquals(
    [
      tcp.getUint32(0, true),
      tcp.getUint16(4, true),
      tcp.getUint16(6, true),
      tcp.getUint32(8, true),
    ],
    [72, 20, 0x301, 7],
  );
  assertEquals([tcp.getUint8(16), tcp.getUint8(17), tcp.getUint32(20, true)], [
    10,
    6,
    1 << 10,
  ]);
  const udp = new DataView(
    encodeDiagRequest({ family: 4, protocol: "udp" }, 1).buffer,
  );
  assertEquals([udp.getUint8(16), udp.getUint8(17), udp.getUint32(20, true)], [
    2,
    17,
    1 << 7,
  ]);
});

Deno.test("decodeDiagReply() reads sockets of both families and the end of the dump", () => {
  const reply = decodeDiagReply(
    concat(
      diagMessage({
        family: 2,
        state: 10,
        port: 8080,
        address: [127, 0, 0, 1],
      }),
      diagMessage({
        family: 10,
        state: 10,
        port: 443,
        address: new Array(16).fill(0),
      }),
      done(),
    ),
    "tcp",
  );
  assertEquals(reply.done, true);
  assertEquals(reply.sockets.map((s) => bindingKey(s.binding)), [
    "tcp/127.0.0.1:8080",
    "tcp/[::]:443",
  ]);
  assertEquals(reply.sockets[0]?.unconnected, true);
  const connected = decodeDiagReply(
    diagMessage({
      family: 2,
      state: 7,
      port: 53,
      address: [0, 0, 0, 0],
      remotePort: 9,
    }),
    "udp",
  );
  assertEquals([connected.done, connected.sockets[0]?.unconnected], [
    false,
    false,
  ]);
});

Deno.test("decodeDiagReply() refuses truncated messages and reports kernel errors", () => {
  const whole = diagMessage({
    family: 2,
    state: 10,
    port: 1,
    address: [1, 2, 3, 4],
  });
  assertThrows(
    () => decodeDiagReply(whole.subarray(0, 40), "tcp"),
    RangeError,
    "message of 88 bytes",
  );
  const error = new Uint8Array(36);
  new DataView(error.buffer).setUint32(0, 36, true);
  new DataView(error.buffer).setUint16(4, 2, true);
  new DataView(error.buffer).setInt32(16, -93, true);
  assertThrows(() => decodeDiagReply(error, "tcp"), Error, "errno 93");
  const zeroLength = new Uint8Array(16);
  assertThrows(
    () => decodeDiagReply(zeroLength, "tcp"),
    RangeError,
    "message of 0 bytes",
  );
  // Random bytes: tests/fuzz_test.ts's "sock_diag replies" property.
});

const LIBC_PATH = findLibcPath();

Deno.test({
  name: "SockDiag lists a real listening socket (the kernel's netlink answer)",
  ignore: ignoreUnless(
    "a C library mapped in this process",
    LIBC_PATH !== undefined,
  ),
}, async () => {
  const libc = new Libc(LIBC_PATH!);
  const diag = new SockDiag(libc);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const udp = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const udpPort = (udp.addr as Deno.NetAddr).port;
    const all = DIAG_QUERIES.flatMap((query) => diag.dump(query));
    const keys = all.map((socket) => bindingKey(socket.binding));
    assert(keys.includes(`tcp/127.0.0.1:${port}`), `${port} in ${keys}`);
    assert(keys.includes(`udp/127.0.0.1:${udpPort}`), `${udpPort} in ${keys}`);
  } finally {
    listener.close();
    udp.close();
    diag.close();
    libc.close();
  }
  await Promise.resolve();
});
