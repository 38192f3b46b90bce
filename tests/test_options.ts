/**
 * Agent options for tests: the defaults without a control socket (a test
 * must not take the machine's /run/guest-agent), and switches for running
 * some sources and no others.
 *
 * @module
 */
import { type AgentOptions, DEFAULT_OPTIONS } from "../agent/options.ts";
import type { SourceName } from "../sources/registry.ts";
import { SOURCE_NAMES } from "../sources/registry.ts";

/** DEFAULT_OPTIONS without the control socket. */
export const TEST_OPTIONS: AgentOptions = {
  ...DEFAULT_OPTIONS,
  controlSocket: "",
};

/** Option overrides that switch every source off but `sources`. */
export function onlySources(
  ...sources: SourceName[]
): Record<SourceName, boolean> {
  return Object.fromEntries(
    SOURCE_NAMES.map((name) => [name, sources.includes(name)]),
  ) as Record<SourceName, boolean>;
}
