/**
 * Splitting a byte stream into lines with a bound on line length.
 *
 * @module
 */

/** Options of {@linkcode readLines}. */
export interface ReadLinesOptions {
  /** Longest line kept, in bytes. @default 1 MiB */
  readonly maxBytes?: number;
  /** Called for each line over `maxBytes` (it is skipped), with its first bytes. */
  readonly onOversized?: (head: string, bytes: number) => void;
  /**
   * Ends the reading: the stream is cancelled and the generator throws the
   * signal's reason. (A fetch body does not always end when its request's
   * signal aborts: measured with Deno 2.9 on a unix-socket client after
   * concurrent requests, the read stayed pending until the peer closed.)
   */
  readonly signal?: AbortSignal;
}

/** Text of at most this many bytes of an oversized line is reported. */
const HEAD_BYTES = 80;

/**
 * The line being read, bounded: past `maxBytes` it keeps only its first
 * bytes, to report, and counts the rest.
 */
class BoundedLine {
  readonly #maxBytes: number;
  readonly #onOversized: ReadLinesOptions["onOversized"];
  readonly #decoder = new TextDecoder();
  #parts: Uint8Array[] = [];
  #length = 0;
  #head: string | undefined;

  constructor(options: ReadLinesOptions) {
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#onOversized = options.onOversized;
  }

  /** Bytes read into this line so far. */
  get length(): number {
    return this.#length;
  }

  /** Each line that `chunk` ends, then keeps what follows the last "\n". */
  *linesOf(chunk: Uint8Array): Generator<string> {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline < 0) break;
      this.#append(chunk.subarray(start, newline));
      const line = this.take();
      if (line !== undefined) yield line;
      start = newline + 1;
    }
    if (start < chunk.length) this.#append(chunk.slice(start));
  }

  /** The line, or undefined when it was over the bound (then reported); starts a new one. */
  take(): string | undefined {
    const line = this.#head === undefined
      ? this.#decoder.decode(concat(this.#parts, this.#length))
      : undefined;
    if (this.#head !== undefined) this.#onOversized?.(this.#head, this.#length);
    this.#parts = [];
    this.#length = 0;
    this.#head = undefined;
    return line;
  }

  #append(chunk: Uint8Array): void {
    this.#length += chunk.length;
    if (this.#head !== undefined) return;
    if (this.#length > this.#maxBytes) {
      const first = concat([...this.#parts, chunk], this.#length);
      this.#head = this.#decoder.decode(first.subarray(0, HEAD_BYTES));
      this.#parts = [];
      return;
    }
    this.#parts.push(chunk);
  }
}

/** `parts` joined (their lengths add up to at most `length`). */
function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole.subarray(0, offset);
}

/**
 * Yields the lines of a stream (without "\n"; a final line without one is
 * yielded too). A line over `maxBytes` is skipped and reported, never
 * buffered whole. Stopping early (a `break`, or `signal`) cancels the
 * stream.
 *
 * @param stream The bytes.
 * @param options The bound and the report.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<string> {
  const line = new BoundedLine(options);
  const signal = options.signal;
  signal?.throwIfAborted();
  const reader = stream.getReader();
  const cancel = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let ended = false;
  try {
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      yield* line.linesOf(chunk);
    }
    ended = true;
  } finally {
    signal?.removeEventListener("abort", cancel);
    if (!ended) await cancel();
    reader.releaseLock();
  }
  signal?.throwIfAborted();
  if (line.length > 0) {
    const last = line.take();
    if (last !== undefined) yield last;
  }
}
