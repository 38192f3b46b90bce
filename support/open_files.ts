/**
 * The process's open-files limit, read from /proc/self/limits (Deno has no
 * getrlimit): each listener and connection takes a descriptor.
 *
 * @module
 */

/**
 * Soft and hard limit on open files; Infinity for "unlimited".
 *
 * @example Usage
 * ```ts
 * import type { OpenFilesLimit } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const limit: OpenFilesLimit = { soft: 1_024, hard: 4_096 };
 * assert(limit.soft <= limit.hard);
 * ```
 */
export interface OpenFilesLimit {
  /** What the process may open now. */
  readonly soft: number;
  /** What the soft limit may be raised to. */
  readonly hard: number;
}

/**
 * Reads the `Max open files` row of a limits file's text.
 *
 * @returns The limits, or undefined when the row is missing or malformed.
 */
export function parseOpenFilesLimit(text: string): OpenFilesLimit | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    text,
  );
  if (!match) return undefined;
  const value = (word: string) =>
    word === "unlimited" ? Infinity : Number(word);
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

/** This process's limit, or undefined where /proc cannot be read. */
export function openFilesLimit(): OpenFilesLimit | undefined {
  try {
    return parseOpenFilesLimit(Deno.readTextFileSync("/proc/self/limits"));
  } catch {
    return undefined;
  }
}

/** Whether an error means the process (or system) is out of descriptors (EMFILE, ENFILE). */
export function isOutOfDescriptors(error: unknown): boolean {
  return /too many open files/i.test((error as Error)?.message ?? "");
}
