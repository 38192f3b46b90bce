/**
 * One message over a raw socket through the libc shim: AF_VSOCK straight to
 * the host, and AF_UNIX (the same calls with another address, which is how
 * the path is tested: never connect a vsock socket on our machines).
 *
 * @module
 */
import { AF_UNIX, AF_VSOCK, Libc } from "../../support/libc.ts";
import type { MessageSender } from "./send_message.ts";

/**
 * `struct sockaddr_vm` (16 bytes): family u16 = 40, reserved u16, port u32,
 * cid u32 (little-endian, as the kernel reads them on x86_64 and arm64),
 * flags u8, zero[3].
 */
export function vsockAddress(cid: number, port: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, AF_VSOCK, true);
  view.setUint32(4, port >>> 0, true);
  view.setUint32(8, cid >>> 0, true);
  return bytes;
}

/** `struct sockaddr_un` for a path of at most 107 bytes. */
export function unixAddress(path: string): Uint8Array {
  const encoded = new TextEncoder().encode(path);
  if (encoded.length > 107) {
    throw new RangeError(
      `Cannot use unix socket path ${path}: longer than 107 bytes`,
    );
  }
  const bytes = new Uint8Array(2 + encoded.length + 1);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(encoded, 2);
  return bytes;
}

/**
 * Connects, writes all of `bytes`, closes; everything within `timeoutMs`.
 *
 * @param libc The shim.
 * @param family AF_VSOCK or AF_UNIX.
 * @param address The packed socket address.
 * @param what The target, for error messages.
 */
export async function sendOverSocket(
  libc: Libc,
  family: number,
  address: Uint8Array,
  what: string,
  bytes: Uint8Array,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const timedOut = () =>
    new Error(`Cannot send to ${what}: timed out after ${timeoutMs} ms`);
  const fd = libc.streamSocket(family);
  try {
    if (libc.connectStart(fd, address, what) !== 0) {
      if (!await libc.waitWritable(fd, deadline)) throw timedOut();
      const error = libc.socketError(fd);
      if (error !== 0) libc.failWith("connect to", what, error);
    }
    let sent = 0;
    while (sent < bytes.length) {
      const count = libc.sendSome(fd, bytes.subarray(sent), what);
      if (count === 0 && !await libc.waitWritable(fd, deadline)) {
        throw timedOut();
      }
      sent += count;
    }
  } finally {
    libc.closeFd(fd);
  }
}

/**
 * A sender for `vsock://cid:port` targets through libc; other targets are
 * handed to `fallback` (Deno's own TCP and unix sockets).
 *
 * @param libcPath The absolute path of libc.
 * @param fallback The sender for TCP and unix targets.
 */
export function vsockCapableSender(
  libcPath: string,
  fallback: MessageSender,
): MessageSender {
  let libc: Libc | undefined;
  return (target, bytes, timeoutMs) => {
    if (target.transport !== "vsock") return fallback(target, bytes, timeoutMs);
    libc ??= new Libc(libcPath);
    return sendOverSocket(
      libc,
      AF_VSOCK,
      vsockAddress(target.cid, target.port),
      `vsock://${target.cid}:${target.port}`,
      bytes,
      timeoutMs,
    );
  };
}
