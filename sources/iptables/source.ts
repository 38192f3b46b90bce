/**
 * The iptables source: NAT DNAT rules (Docker, CNI portmap, netavark, Kube
 * proxies), seen through nf_tables change notifications or polling. See
 * docs/protocols.md, "iptables rules".
 *
 * @module
 */
import type { SourceDescriptor } from "../descriptor.ts";
import { NO_PERMISSIONS, workerModule } from "../descriptor.ts";
import type { MachineProbe } from "../probe.ts";
import { msValue } from "../../support/option_table.ts";
import type { IptablesConfig } from "./config.ts";

/** The iptables source's options. */
export interface IptablesOptions {
  /** Scan iptables DNAT rules. */
  readonly iptables: boolean;
  /** iptables poll interval in ms, where there are no change notifications. */
  readonly iptablesIntervalMs: number;
  /** iptables safety-net rescan interval in ms (with notifications). */
  readonly iptablesResyncMs: number;
}

/** Where the save binaries are: the run grant. */
export interface IptablesFacts {
  /** iptables-save's path on PATH, if installed. */
  readonly iptablesSave: readonly string[];
  /** ip6tables-save's path on PATH, if installed. */
  readonly ip6tablesSave: readonly string[];
}

/**
 * A binary's path on PATH, as the run grant: the path alone, never where its
 * symlinks lead. iptables-save is a symlink to xtables-nft-multi, a
 * multi-call binary that also writes rules; Deno runs a granted symlink
 * without a grant on its target, and a grant on the target would be a grant
 * on every one of its commands.
 */
async function binaryPaths(
  probe: MachineProbe,
  name: string,
): Promise<string[]> {
  const path = await probe.which(name);
  return path === undefined ? [] : [path];
}

/** The iptables source. */
export const iptablesSource: SourceDescriptor<
  "iptables",
  IptablesOptions,
  IptablesConfig,
  IptablesFacts
> = {
  name: "iptables",
  options: [
    {
      key: "iptables",
      name: "iptables",
      goName: "iptables",
      kind: "boolean",
      help: "scan iptables DNAT rules (Go: -iptables, default true)",
      negation: "do not scan iptables",
    },
    {
      key: "iptablesIntervalMs",
      name: "iptables-interval",
      kind: "value",
      valueName: "<ms>",
      help:
        "ms between iptables scans where the kernel sends no change notifications (legacy backend)",
      parse: msValue("--iptables-interval", 10),
    },
    {
      key: "iptablesResyncMs",
      name: "iptables-resync",
      kind: "value",
      valueName: "<ms>",
      help:
        "ms between safety-net iptables rescans when change notifications work",
      parse: msValue("--iptables-resync", 100),
    },
  ],
  defaults: {
    iptables: true,
    iptablesIntervalMs: 2000,
    iptablesResyncMs: 60_000,
  },
  onWithoutFlag: true,
  async detect(_options, probe) {
    if (!probe.isRoot()) return { ok: false, reason: "not running as root" };
    const path = await probe.which("iptables-save");
    return path
      ? { ok: true, reason: `running as root and ${path} exists` }
      : { ok: false, reason: "iptables-save is not installed" };
  },
  gatherFacts: async (_options, probe) => ({
    iptablesSave: await binaryPaths(probe, "iptables-save"),
    ip6tablesSave: await binaryPaths(probe, "ip6tables-save"),
  }),
  worker: {
    module: workerModule("iptables", import.meta.url),
    // Running the two save binaries (their paths only: see binaryPaths),
    // and FFI on libc for the nf_tables notification socket (FFI is not
    // sandboxed: README, Isolation).
    permissions: (_options, facts) => ({
      ...NO_PERMISSIONS,
      run: [...facts.iptablesSave, ...facts.ip6tablesSave],
      ffi: facts.libcPath ? [facts.libcPath] : false,
    }),
    config: (options, facts) => ({
      iptablesSave: facts.iptablesSave[0] ?? "/usr/sbin/iptables-save",
      ...(facts.ip6tablesSave[0]
        ? { ip6tablesSave: facts.ip6tablesSave[0] }
        : {}),
      pollIntervalMs: options.iptablesIntervalMs,
      resyncIntervalMs: options.iptablesResyncMs,
      ...(facts.libcPath ? { libcPath: facts.libcPath } : {}),
    }),
  },
  // A DNAT rule's port is served by the kernel, not by a socket WSL sees:
  // it needs a listener in every forwarding mode.
  observes: "dnat-rules",
};
