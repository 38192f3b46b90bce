/**
 * The iptables worker's configuration: the type the main thread sends
 * (sources/iptables/source.ts) and the check the worker reads it back with.
 *
 * @module
 */
import { configPath } from "../../support/config_path.ts";

/** Configuration of the iptables source. */
export interface IptablesConfig {
  /** Absolute path of iptables-save. */
  readonly iptablesSave: string;
  /** Absolute path of ip6tables-save, when installed. */
  readonly ip6tablesSave?: string;
  /** Poll interval where there are no change notifications, in ms. */
  readonly pollIntervalMs: number;
  /** Safety-net full rescan interval, in ms. */
  readonly resyncIntervalMs: number;
  /** Absolute path of libc, for nf_tables notifications; none: poll. */
  readonly libcPath?: string;
}

const absolute = (value: unknown, field: string) =>
  configPath(value, "iptables", field);

function interval(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 10) {
    throw new TypeError(
      `Cannot configure iptables: ${name} must be a number of ms, at least 10`,
    );
  }
  return value;
}

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a path is not absolute or an interval is bad.
 */
export function parseIptablesConfig(
  raw: Readonly<Record<string, unknown>>,
): IptablesConfig {
  return {
    iptablesSave: absolute(raw.iptablesSave, "iptablesSave"),
    pollIntervalMs: interval(raw.pollIntervalMs, "pollIntervalMs"),
    resyncIntervalMs: interval(raw.resyncIntervalMs, "resyncIntervalMs"),
    ...(raw.ip6tablesSave === undefined
      ? {}
      : { ip6tablesSave: absolute(raw.ip6tablesSave, "ip6tablesSave") }),
    ...(raw.libcPath === undefined
      ? {}
      : { libcPath: absolute(raw.libcPath, "libcPath") }),
  };
}
