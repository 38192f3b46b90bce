/**
 * Non-blocking stream sockets through libc (support/libc.ts): AF_VSOCK to
 * the host, and AF_UNIX and AF_INET through the same calls, for the
 * privileged service's messages. Each call returns at once; waits poll in
 * slices on Deno's FFI thread pool.
 *
 * @module
 */
import {
  EAGAIN,
  EINPROGRESS,
  type Libc,
  POLL_SLICE_MS,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOL_SOCKET,
} from "../../support/libc.ts";

const SOCK_STREAM = 1;
const SO_ERROR = 4;
const SHUT_WR = 1;
const POLLOUT = 0x4;

/**
 * Creates a non-blocking, close-on-exec stream socket.
 *
 * @throws {LibcError} With errno (EAFNOSUPPORT when the family is missing).
 */
export function streamSocket(
  libc: Libc,
  family: number,
): number {
  const fd = libc.symbols.socket(
    family,
    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
  );
  if (fd < 0) libc.fail("create a socket of family", String(family));
  return fd;
}

/** Starts connecting; returns 0 when connected, EINPROGRESS or EAGAIN while pending. */
export function connectStart(
  libc: Libc,
  fd: number,
  address: Uint8Array,
  what: string,
): number {
  if (libc.symbols.connect(fd, address, address.length) === 0) {
    return 0;
  }
  const errno = libc.errno();
  if (errno === EINPROGRESS || errno === EAGAIN) return errno;
  return libc.failWith("connect to", what, errno);
}

/** The pending error of a socket (SO_ERROR), 0 when none. */
export function socketError(
  libc: Libc,
  fd: number,
): number {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  if (
    libc.symbols.getsockopt(
      fd,
      SOL_SOCKET,
      SO_ERROR,
      value,
      length,
    ) < 0
  ) {
    return libc.errno();
  }
  return value[0]!;
}

/** Binds a socket (tests bind AF_VSOCK; nothing ever connects one). */
export function bind(
  libc: Libc,
  fd: number,
  address: Uint8Array,
  what: string,
): void {
  if (libc.symbols.bind(fd, address, address.length) < 0) {
    libc.fail("bind", what);
  }
}

/** Marks a socket as listening. */
export function listen(
  libc: Libc,
  fd: number,
  backlog: number,
  what: string,
): void {
  if (libc.symbols.listen(fd, backlog) < 0) {
    libc.fail("listen on", what);
  }
}

/**
 * Whether a socket is writable (or failed) right now: one poll(2) with
 * timeout 0 on this thread. A loopback or unix connect is usually done by
 * the time connect returns, and looking here spares a hop to the FFI thread
 * pool and back (and the turn of the event loop an `await` costs).
 */
export function writableNow(libc: Libc, fd: number): boolean {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLOUT, true);
  return libc.symbols.pollNow(pollfd, 1n, 0) > 0 &&
    view.getInt16(6, true) !== 0;
}

/**
 * Waits until a socket is writable or failed, or `deadline` (a
 * performance.now() time) passes, polling on the FFI pool in slices of at
 * most 50 ms.
 *
 * @returns true when writable or failed, false at the deadline.
 */
export async function waitWritable(
  libc: Libc,
  fd: number,
  deadline: number,
): Promise<boolean> {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLOUT, true);
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    view.setInt16(6, 0, true);
    const ready = await libc.symbols.pollAsync(
      pollfd,
      1n,
      Math.max(1, Math.min(POLL_SLICE_MS, Math.ceil(left))),
    );
    if (ready > 0 && view.getInt16(6, true) !== 0) return true;
  }
}

/** Closes the writing side of a connected socket (`shutdown(SHUT_WR)`). */
export function shutdownWrite(
  libc: Libc,
  fd: number,
  what: string,
): void {
  if (libc.symbols.shutdown(fd, SHUT_WR) < 0) {
    libc.failWith("shut down writing to", what, libc.errno());
  }
}

/**
 * Reads a connected non-blocking socket until the peer closes in order,
 * dropping what it sends (1 MiB at most), or until `deadline` (a
 * performance.now() time).
 *
 * @returns true when the peer closed, false at the deadline.
 * @throws {LibcError} When the peer reset the connection (ECONNRESET) or
 *   another error ended it.
 */
export async function awaitPeerClose(
  libc: Libc,
  fd: number,
  deadline: number,
  what: string,
): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  let total = 0;
  // A peer nearby closes within a millisecond or two: look again on this
  // thread's timers first, and only then park a thread of the FFI pool.
  const quickLooksMs = [...QUICK_LOOKS_MS];
  for (;;) {
    const count = Number(
      libc.symbols.recv(fd, buffer, BigInt(buffer.length), 0),
    );
    if (count === 0) return true;
    if (count > 0) {
      total += count;
      if (total > 1024 * 1024) {
        throw new Error(
          `Cannot send to ${what}: the peer sent more than 1 MiB instead of closing`,
        );
      }
      continue;
    }
    const errno = libc.errno();
    if (errno !== EAGAIN) libc.failWith("receive from", what, errno);
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const look = quickLooksMs.shift();
    if (look !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(look, left)));
      continue;
    }
    await libc.waitReadable(fd, Math.min(POLL_SLICE_MS, Math.ceil(left)));
  }
}

/** The waits, in ms, before each quick look for the peer's close. */
const QUICK_LOOKS_MS = [1, 2, 4] as const;
