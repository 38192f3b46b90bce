/**
 * Agent options for tests that run some sources and no others.
 *
 * @module
 */
import type { SourceName } from "../sources/catalog.ts";
import { SOURCE_NAMES } from "../sources/catalog.ts";

/** Option overrides that switch every source off but `sources`. */
export function onlySources(
  ...sources: SourceName[]
): Record<SourceName, boolean> {
  return Object.fromEntries(
    SOURCE_NAMES.map((name) => [name, sources.includes(name)]),
  ) as Record<SourceName, boolean>;
}
