/**
 * The agent's version (kept equal to deno.json's by a test).
 *
 * @module
 */

/**
 * The agent's version.
 *
 * @example Usage
 * ```ts
 * import { VERSION } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * assert.match(VERSION, /^\d+\.\d+\.\d+/);
 * ```
 */
export const VERSION = "0.1.0";
