/**
 * Hex encoding for test fixtures and digests.
 *
 * @module
 */

/** Lower-case hex of `bytes`. */
export function encodeHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

/**
 * Bytes of a hex string (whitespace ignored).
 *
 * @throws {SyntaxError} When it is not an even number of hex digits.
 */
export function decodeHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (!/^([0-9a-f]{2})*$/i.test(clean)) {
    throw new SyntaxError("Cannot decode hex: not pairs of hex digits");
  }
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}
