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
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let length = 0;
  let oversized = false;
  let head = "";
  const finish = (): string | undefined => {
    if (oversized) {
      options.onOversized?.(head, length);
      return undefined;
    }
    const whole = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    return decoder.decode(whole);
  };
  const reset = () => {
    parts = [];
    length = 0;
    oversized = false;
    head = "";
  };
  const append = (chunk: Uint8Array) => {
    length += chunk.length;
    if (oversized) return;
    if (length > maxBytes) {
      oversized = true;
      head = decoder.decode(
        [...parts, chunk].reduce((acc, part) => {
          const merged = new Uint8Array(acc.length + part.length);
          merged.set(acc);
          merged.set(part, acc.length);
          return merged;
        }, new Uint8Array()).subarray(0, 80),
      );
      parts = [];
      return;
    }
    parts.push(chunk);
  };
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
      yield* linesOf(chunk);
    }
    ended = true;
  } finally {
    signal?.removeEventListener("abort", cancel);
    if (!ended) await cancel();
    reader.releaseLock();
  }
  signal?.throwIfAborted();
  if (length > 0) {
    const line = finish();
    if (line !== undefined) yield line;
  }

  function* linesOf(chunk: Uint8Array): Generator<string> {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(10, start);
      if (newline < 0) break;
      append(chunk.subarray(start, newline));
      const line = finish();
      reset();
      if (line !== undefined) yield line;
      start = newline + 1;
    }
    if (start < chunk.length) append(chunk.slice(start));
  }
}
