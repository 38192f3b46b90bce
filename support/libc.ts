/**
 * The agent's only use of `Deno.dlopen`: libc, opened once per thread that
 * needs it, for what Deno's own APIs cannot do. (1) Deno refuses to read
 * anything under /proc/<pid> — /proc/net is /proc/self/net — without
 * --allow-all, so the /proc/net source reads through libc with an FFI grant
 * scoped to the libc file and nothing else. (2) AF_VSOCK straight to the
 * host for the privileged service (forwarding/privileged_service/stream_socket.ts).
 * (3) Netlink: nf_tables notifications and socket diagnostics
 * (support/netlink.ts). This module is the core: the library, errno and its
 * errors, reading a file, polling and receiving.
 *
 * Every socket is non-blocking and every call but `poll` is synchronous and
 * returns at once, so errno is read on the same thread right after the call
 * that set it. `poll` runs on Deno's FFI thread pool: bounded waits
 * (connect, send) in slices of at most 50 ms; the idle waits for kernel
 * events (support/kernel_wait.ts) park one pool thread each until an event,
 * their safety-net deadline or a wake-up descriptor ends them.
 *
 * @module
 */

/**
 * File names a C library has when mapped into a process: glibc's `libc.so.6`
 * (or `libc-2.NN.so` before 2.34), musl's loader, which is its libc too
 * (`ld-musl-<arch>.so.1`, Alpine's `libc.musl-<arch>.so.1` link).
 */
const LIBC_FILE_NAME =
  /^(?:libc\.so\.6|libc-2\.\d+\.so|ld-musl-[\w-]+\.so\.1|libc\.musl-[\w-]+\.so\.1)$/;

/** Where {@linkcode findLibcPath} reads which files this process maps. */
export const PROCESS_MAPS = "/proc/self/maps";

/**
 * The C library a process runs on, read from its memory map
 * (`/proc/PID/maps` text): the one file whose name is a libc's. Pure.
 *
 * Opening this file with `dlopen` gives back the library already loaded
 * (glibc and musl both match a loaded object by path or by device and inode),
 * so the FFI shim never maps a second libc: a second one in one process
 * corrupts the heap and thread state, as a glibc Deno that opened musl did.
 *
 * @param maps The text of a maps file: `start-end perms offset dev inode path`.
 * @returns The absolute path, or undefined when no libc is mapped, more than
 *   one is, or the mapped one was deleted since (opening the path would load
 *   the new file, not the mapped one).
 */
export function libcFromMaps(maps: string): string | undefined {
  const paths = new Set<string>();
  for (const line of maps.split("\n")) {
    // The path is the sixth field; it may hold spaces, so take the rest.
    const path = /^\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\/.*)$/.exec(line)?.[1];
    const file = path?.replace(/ \(deleted\)$/, "");
    if (file && LIBC_FILE_NAME.test(file.slice(file.lastIndexOf("/") + 1))) {
      paths.add(path!);
    }
  }
  const [path] = paths;
  return paths.size === 1 && !path!.endsWith(" (deleted)") ? path : undefined;
}

let mappedLibc: { path: string | undefined } | undefined;

/**
 * The absolute path of the libc this process runs on (FFI grants must name
 * the file exactly), read once from /proc/self/maps: the system's, or the
 * glibc a release ships beside Deno. Undefined when it cannot be told (the
 * map is unreadable without --allow-all, or names no single libc); never a
 * guess at another file.
 *
 * @param readMaps Reads the maps file. @default Deno.readTextFileSync of /proc/self/maps
 */
export function findLibcPath(
  readMaps?: () => string,
): string | undefined {
  if (readMaps) return libcFromMapsOrUndefined(readMaps);
  mappedLibc ??= {
    path: libcFromMapsOrUndefined(() => Deno.readTextFileSync(PROCESS_MAPS)),
  };
  return mappedLibc.path;
}

function libcFromMapsOrUndefined(readMaps: () => string): string | undefined {
  try {
    return libcFromMaps(readMaps());
  } catch {
    return undefined;
  }
}

/** The libc functions the agent calls. */
const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  strlen: { parameters: ["pointer"], result: "usize" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** perf_event_open(2) only: glibc has no wrapper for it. */
  syscall: {
    parameters: ["i64", "buffer", "i32", "i32", "i32", "u64"],
    result: "i64",
  },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctlValue: {
    name: "ioctl",
    parameters: ["i32", "u64", "u64"],
    result: "i32",
  },
  /** Addresses as integers: pointer objects need an FFI grant beyond libc. */
  mmap: {
    parameters: ["usize", "usize", "i32", "i32", "i32", "i64"],
    result: "usize",
  },
  munmap: { parameters: ["usize", "usize"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  /** poll(2) on this thread, only ever with timeout 0: a look, not a wait. */
  pollNow: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
  },
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const;

/** The opened functions of {@linkcode SYMBOLS}. */
export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** poll(2): readable. */
export const POLLIN = 0x1;
/** poll(2): an error on the descriptor. */
export const POLLERR = 0x8;
/** poll(2): the other end hung up. */
export const POLLHUP = 0x10;
/** AF_UNIX. */
export const AF_UNIX = 1;
/** AF_VSOCK. */
export const AF_VSOCK = 40;
/** socket(2) flag: non-blocking. */
export const SOCK_NONBLOCK = 0o4000;
/** socket(2) flag: close on exec. */
export const SOCK_CLOEXEC = 0o2000000;
/** setsockopt level of socket options. */
export const SOL_SOCKET = 1;
/** The longest one poll call may park a thread of Deno's FFI pool, in ms. */
export const POLL_SLICE_MS = 50;
/** errno: operation in progress (a non-blocking connect). */
export const EINPROGRESS = 115;
/** errno: try again (a full socket buffer). */
export const EAGAIN = 11;

const MSG_NOSIGNAL = 0x4000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;
const ENOENT = 2;
const EACCES = 13;

/** A libc call failed; `errno` says why. */
export class LibcError extends Error {
  /** The C errno value. */
  readonly errno: number;

  /** Creates the error for `call` on `path`. */
  constructor(call: string, path: string, errno: number, text: string) {
    super(`Cannot ${call} ${path}: ${text} (errno ${errno})`);
    this.name = "LibcError";
    this.errno = errno;
  }
}

const encoder = new TextEncoder();

/**
 * A handle on libc. Calls are synchronous and short (no blocking socket
 * calls here), so errno read right after a call is that call's.
 */
export class Libc {
  #library: Deno.DynamicLibrary<typeof SYMBOLS>;
  #errnoBuffer = new Int32Array(1);

  /**
   * Opens libc.
   *
   * @param path The absolute path of libc (see {@linkcode findLibcPath}).
   */
  constructor(path: string) {
    this.#library = Deno.dlopen(path, SYMBOLS);
  }

  /** The library's functions, for the socket helpers beside their users. */
  get symbols(): LibcSymbols {
    return this.#library.symbols;
  }

  /** The calling thread's errno (read through memcpy: no pointer views needed). */
  errno(): number {
    const location = this.#library.symbols.__errno_location();
    this.#library.symbols.memcpy(this.#errnoBuffer, location, 4n);
    return this.#errnoBuffer[0]!;
  }

  #strerror(errno: number): string {
    const pointer = this.#library.symbols.strerror(errno);
    const length = Number(this.#library.symbols.strlen(pointer));
    const bytes = new Uint8Array(Math.min(length, 200));
    this.#library.symbols.memcpy(bytes, pointer, BigInt(bytes.length));
    return new TextDecoder().decode(bytes);
  }

  /** Throws for the errno of the call that just failed. */
  fail(call: string, path: string): never {
    return this.#failWith(call, path, this.errno());
  }

  /** Throws for `errno` (also used for SO_ERROR values). */
  failWith(call: string, what: string, errno: number): never {
    return this.#failWith(call, what, errno);
  }

  #failWith(call: string, path: string, errno: number): never {
    const text = this.#strerror(errno);
    if (errno === ENOENT) {
      throw new Deno.errors.NotFound(`Cannot ${call} ${path}: ${text}`);
    }
    if (errno === EACCES) {
      throw new Deno.errors.PermissionDenied(`Cannot ${call} ${path}: ${text}`);
    }
    throw new LibcError(call, path, errno, text);
  }

  /**
   * Reads a whole file with open/read/close.
   *
   * @param path The file.
   * @param maxBytes Refuse files larger than this. @default 64 MiB
   * @returns The file's bytes.
   * @throws {Deno.errors.NotFound} When the file does not exist.
   * @throws {RangeError} When the file is larger than `maxBytes`.
   */
  readFile(path: string, maxBytes = 64 * 1024 * 1024): Uint8Array {
    const { open, read, close } = this.#library.symbols;
    const fd = open(encoder.encode(`${path}\0`), O_RDONLY | O_CLOEXEC);
    if (fd < 0) this.fail("open", path);
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = new Uint8Array(64 * 1024);
        const count = Number(read(fd, chunk, BigInt(chunk.length)));
        if (count < 0) {
          if (this.errno() === EINTR) continue;
          this.fail("read", path);
        }
        if (count === 0) break;
        total += count;
        if (total > maxBytes) {
          throw new RangeError(
            `Cannot read ${path}: larger than ${maxBytes} bytes`,
          );
        }
        chunks.push(chunk.subarray(0, count));
      }
      const whole = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        whole.set(chunk, offset);
        offset += chunk.length;
      }
      return whole;
    } finally {
      close(fd);
    }
  }

  /**
   * Waits up to `timeoutMs` for a socket to have data (one poll call on
   * Deno's FFI thread pool).
   *
   * @returns true when readable (or failed), false at the timeout.
   */
  async waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
    const [events] = await this.pollReadable(
      [fd],
      Math.max(0, Math.floor(timeoutMs)),
    );
    return events !== 0;
  }

  /**
   * One poll(2) for POLLIN on every descriptor, on Deno's FFI thread pool.
   *
   * @param fds The descriptors.
   * @param timeoutMs The longest wait; -1 waits until one is ready.
   * @returns Each descriptor's returned events (0: nothing), in order; all 0
   *   at the timeout or when poll was interrupted.
   */
  async pollReadable(
    fds: readonly number[],
    timeoutMs: number,
  ): Promise<number[]> {
    const pollfds = new Uint8Array(8 * fds.length);
    const view = new DataView(pollfds.buffer);
    fds.forEach((fd, index) => {
      view.setInt32(8 * index, fd, true);
      view.setInt16(8 * index + 4, POLLIN, true);
    });
    const ready = await this.#library.symbols.pollAsync(
      pollfds,
      BigInt(fds.length),
      timeoutMs < 0 ? -1 : Math.floor(timeoutMs),
    );
    return fds.map((_, index) =>
      ready > 0 ? view.getUint16(8 * index + 6, true) : 0
    );
  }

  /**
   * Receives what a non-blocking socket holds now.
   *
   * @returns The byte count, or 0 when nothing is waiting.
   * @throws {LibcError} With errno (ENOBUFS: messages were lost).
   */
  recvSome(fd: number, buffer: Uint8Array, what: string): number {
    const count = Number(
      this.#library.symbols.recv(fd, buffer, BigInt(buffer.length), 0),
    );
    if (count >= 0) return count;
    const errno = this.errno();
    if (errno === EAGAIN) return 0;
    return this.#failWith("receive from", what, errno);
  }

  /** Sends what the socket takes now: the count, or 0 when its buffer is full. */
  sendSome(fd: number, bytes: Uint8Array, what: string): number {
    const count = Number(
      this.#library.symbols.send(fd, bytes, BigInt(bytes.length), MSG_NOSIGNAL),
    );
    if (count >= 0) return count;
    const errno = this.errno();
    if (errno === EAGAIN) return 0;
    return this.#failWith("send to", what, errno);
  }

  /** Closes a file descriptor. */
  closeFd(fd: number): void {
    this.#library.symbols.close(fd);
  }

  /** Releases the library. */
  close(): void {
    this.#library.close();
  }
}
