import {
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../tests/assert.ts";
import { startLineReceiver } from "../../tests/line_receiver.ts";
import { ignoreUnless } from "../../tests/requirements.ts";
import { waitFor } from "../../tests/wait.ts";
import { AF_UNIX, AF_VSOCK, findLibcPath, Libc } from "../../support/libc.ts";
import { bind, listen, streamSocket } from "./stream_socket.ts";
import { sendOverSocket, unixAddress, vsockAddress } from "./socket_sender.ts";

Deno.test("vsockAddress() packs struct sockaddr_vm", () => {
  assertEquals(
    [...vsockAddress(2, 17381)],
    [40, 0, 0, 0, 0xe5, 0x43, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
  );
  assertEquals([...vsockAddress(0xffffffff, 1).subarray(8, 12)], [
    255,
    255,
    255,
    255,
  ]);
});

Deno.test("unixAddress() packs struct sockaddr_un", () => {
  assertEquals([...unixAddress("/a")], [1, 0, 47, 97, 0]);
});

// The connect/send/close path of the vsock sender, over AF_UNIX: the same
// libc calls with another address. (A vsock socket is never connected here.)
Deno.test("sendOverSocket() delivers one message over AF_UNIX through libc", async () => {
  const libc = new Libc(findLibcPath()!);
  const dir = await Deno.makeTempDir();
  const receiver = startLineReceiver({ path: `${dir}/peer.sock` });
  try {
    const big = "x".repeat(300_000); // larger than a socket buffer: exercises EAGAIN + poll
    for (const message of ['{"remove":false}\n', `${big}\n`]) {
      await sendOverSocket(
        libc,
        AF_UNIX,
        unixAddress(`${dir}/peer.sock`),
        "unix peer",
        new TextEncoder().encode(message),
        5000,
      );
    }
    await waitFor(() => receiver.messages.length === 2);
    assertEquals(receiver.messages[0], '{"remove":false}\n');
    assertEquals(receiver.messages[1]?.length, big.length + 1);
  } finally {
    await receiver.close();
    libc.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sendOverSocket() names the target and errno when nobody listens", async () => {
  const libc = new Libc(findLibcPath()!);
  try {
    await assertRejects(
      () =>
        sendOverSocket(
          libc,
          AF_UNIX,
          unixAddress("/nonexistent/peer.sock"),
          "unix:///nonexistent/peer.sock",
          new Uint8Array([1]),
          1000,
        ),
      Deno.errors.NotFound,
      "Cannot connect to unix:///nonexistent/peer.sock",
    );
  } finally {
    libc.close();
  }
});

/** Whether this kernel makes AF_VSOCK sockets (made and closed, never connected). */
function kernelHasVsock(): boolean {
  const libc = new Libc(findLibcPath()!);
  try {
    libc.closeFd(streamSocket(libc, AF_VSOCK));
    return true;
  } catch {
    return false;
  } finally {
    libc.close();
  }
}

Deno.test(
  "an AF_VSOCK socket the shim made holds its port once bound and listening: a second bind is refused as in use (never connected)",
  {
    ignore: ignoreUnless("AF_VSOCK in the kernel", kernelHasVsock()),
  },
  () => {
    const libc = new Libc(findLibcPath()!);
    const address = vsockAddress(0xffffffff, 0x7fff_0000 + (Deno.pid % 0xffff));
    let fd = -1;
    let second = -1;
    try {
      fd = streamSocket(libc, AF_VSOCK);
      bind(libc, fd, address, "vsock any");
      listen(libc, fd, 1, "vsock any");
      second = streamSocket(libc, AF_VSOCK);
      assertThrows(
        () => bind(libc, second, address, "vsock any again"),
        Error,
        "in use",
      );
    } finally {
      if (second >= 0) libc.closeFd(second);
      if (fd >= 0) libc.closeFd(fd);
      libc.close();
    }
  },
);
