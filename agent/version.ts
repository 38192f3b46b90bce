/**
 * The agent's version (kept equal to deno.json's by a test).
 *
 * @module
 */

/** The agent's version. */
export const VERSION = "0.1.0";
