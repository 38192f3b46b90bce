/**
 * Text from sources (container, service and rule names, error messages) made
 * safe to print on a terminal: a name holding `\n` or `ESC[2J` must not
 * forge lines or clear the screen.
 *
 * @module
 */

const NAMED: Readonly<Record<string, string>> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

// C0 controls, DEL, C1 controls, and the Unicode marks that reorder text
// (bidirectional embeddings, overrides, isolates) or hide it (line and
// paragraph separators).
const UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Shows every control character of `text` as an escape (`\n`, `\t`,
 * `\x1b`, `\u202e`); everything else, backslashes included, stays as it is.
 *
 * @param text Any string.
 * @returns A string with no control characters.
 *
 * @example
 * ```ts
 * import { escapeForTerminal } from "./terminal_text.ts";
 * escapeForTerminal("web\x1b[2J\n"); // "web\\x1b[2J\\n"
 * ```
 */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const named = NAMED[char];
    if (named !== undefined) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
