/**
 * A short, quoted sample of bad input for error messages: enough to find it
 * in a log, never a whole oversized value.
 *
 * @module
 */

/**
 * `value` as JSON text (a string as itself), cut at `limit` characters,
 * then quoted.
 *
 * @example
 * ```ts
 * import { quotedPreview } from "./preview.ts";
 * quotedPreview({ a: 1 }); // "\"{\\\"a\\\":1}\""
 * ```
 */
export function quotedPreview(value: unknown, limit = 80): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value) ?? "";
  } catch {
    text = String(value);
  }
  return JSON.stringify(
    text.length > limit ? `${text.slice(0, limit)}…` : text,
  );
}
