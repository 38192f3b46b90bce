/**
 * Synchronous writes to stderr, so the last lines before an exit are never
 * lost (and no logging library is needed to write them).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes all of `text` to stderr before returning. */
export function writeStderrSync(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}
