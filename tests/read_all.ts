/**
 * Reads a connection to its end, for tests and fixtures that check what a
 * peer sent before it closed (or ended its writing).
 *
 * @module
 */

/** Everything `conn` sends until its end, decoded as UTF-8. */
export async function readAllText(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  for (;;) {
    const count = await conn.read(buffer);
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
  }
  const whole = new Uint8Array(
    chunks.reduce((n, chunk) => n + chunk.length, 0),
  );
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(whole);
}
