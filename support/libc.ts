/**
 * The agent's only use of `Deno.dlopen`: a few libc calls, for what Deno's
 * own APIs cannot do inside a permission-scoped worker. (Deno refuses to
 * read anything under /proc/<pid> — /proc/net is /proc/self/net — without
 * --allow-all, so the /proc/net source reads through libc with an FFI grant
 * scoped to the libc file and nothing else.)
 *
 * @module
 */

/** Where libc lives on the distributions the agent runs on (glibc, musl). */
export const LIBC_CANDIDATES: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib64/libc.so.6",
  "/lib/libc.so.6",
  "/usr/lib/libc.so.6",
  "/lib/ld-musl-x86_64.so.1",
  "/lib/ld-musl-aarch64.so.1",
];

/**
 * The absolute path of this machine's libc (FFI grants must name the file
 * exactly), or undefined.
 *
 * @param exists Tells whether a path is a file. @default Deno.statSync
 */
export function findLibcPath(
  exists: (path: string) => boolean = (path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
): string | undefined {
  return LIBC_CANDIDATES.find(exists);
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  strlen: { parameters: ["pointer"], result: "usize" },
} as const;

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

  #fail(call: string, path: string): never {
    const errno = this.errno();
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
    if (fd < 0) this.#fail("open", path);
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = new Uint8Array(64 * 1024);
        const count = Number(read(fd, chunk, BigInt(chunk.length)));
        if (count < 0) {
          if (this.errno() === EINTR) continue;
          this.#fail("read", path);
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

  /** Releases the library. */
  close(): void {
    this.#library.close();
  }
}
