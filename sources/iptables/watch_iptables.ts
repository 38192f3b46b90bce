/**
 * The iptables source's watcher: scans the NAT tables with iptables-save
 * (and ip6tables-save), on every nf_tables change notification (debounced),
 * or on a poll timer where there are none, plus a slow safety-net resync;
 * sends a snapshot whenever the published set changes.
 *
 * @module
 */
import {
  pollingTrigger,
  rescanUntilAborted,
  type ScanTrigger,
} from "../worker/rescan_loop.ts";
import { changeTrigger } from "../worker/change_trigger.ts";
import type { IptablesConfig } from "./config.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import { bindingKey, type PortEntry } from "../../binding/binding.ts";
import { type CommandResult, runCommand } from "../../support/run_command.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { type ChangeSubscription, subscribeNftChanges } from "./nft_changes.ts";
import { type IpFamily, parseNatTable } from "./parse_iptables.ts";
import { sourceLogger } from "../source_log.ts";

/** Runs `<binary> <args>` (see runCommand). */
export type RunSave = (
  binary: string,
  args: readonly string[],
) => Promise<CommandResult>;

/** Options of {@linkcode watchIptables}. */
export interface WatchIptablesOptions {
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /** How binaries are run. @default runCommand */
  readonly run?: RunSave;
  /**
   * Subscribes to ruleset changes, or says why there are none (a string);
   * a throw also means polling.
   * @default nf_tables notifications through libc when `libcPath` is set
   *   and `iptables-save -V` says nf_tables
   */
  readonly subscribe?: (() => ChangeSubscription) | string;
  /** Quiet time after a change before scanning, in ms. @default 10 */
  readonly debounceMs?: number;
  /** Longest a burst of changes may delay a scan, in ms. @default 50 */
  readonly maxDelayMs?: number;
}

/** Exit status of the xtables tools while another holds the lock. */
export const XTABLES_LOCK_HELD = 4;
const LOCK_RETRIES = 20;
const LOCK_RETRY_MS = 50;

const logger = sourceLogger("iptables");

/**
 * What a snapshot says, order aside: owners, bindings and what describes
 * them (a CNI chain's name comes with its commented jump rule, which may be
 * added after its DNAT rule, so a name alone is a change worth sending).
 */
function signature(entries: readonly PortEntry[]): string {
  return entries.map((entry) =>
    [
      entry.ownerId,
      bindingKey(entry.binding),
      entry.name ?? "",
      entry.containerPort ?? "",
      (entry.containerIps ?? []).join(","),
    ].join("\0")
  ).sort().join("\n");
}

/**
 * Runs a save binary; the worker may run only what was on PATH when the
 * agent started (its run grant), so a refusal says that, not "--allow-run".
 */
async function runGranted(
  run: RunSave,
  binary: string,
  args: readonly string[],
): Promise<CommandResult> {
  try {
    return await run(binary, args);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new Error(
      `Cannot run ${binary}: it was not on PATH when the agent started (install iptables, then restart the agent)`,
    );
  }
}

/**
 * Reads both NAT tables into entries: `iptables-save` retried while another
 * process holds the xtables lock, each skipped rule and a missing IPv6 table
 * said once.
 */
function natScanner(
  config: IptablesConfig,
  run: NonNullable<WatchIptablesOptions["run"]>,
  clock: Clock,
  signal: AbortSignal,
): () => Promise<PortEntry[]> {
  const loggedSkips = new Set<string>();
  const ip6Failures = new Set<string>();

  const save = async (binary: string): Promise<string> => {
    for (let attempt = 0;; attempt++) {
      const result = await runGranted(run, binary, ["-t", "nat"]);
      if (result.code === 0) return result.stdout;
      if (result.code === XTABLES_LOCK_HELD && attempt < LOCK_RETRIES) {
        await sleep(clock, LOCK_RETRY_MS, signal);
        continue;
      }
      throw new Error(
        `Cannot read the NAT table: ${binary} -t nat exited ${result.code}: ${
          result.stderr.trim().slice(0, 300)
        }`,
      );
    }
  };

  const scanTable = async (binary: string, family: IpFamily) => {
    const scan = parseNatTable(await save(binary), family);
    for (const reason of scan.skipped) {
      if (loggedSkips.has(reason) || loggedSkips.size > 10_000) continue;
      loggedSkips.add(reason);
      logger.warn("iptables: skipped rule {rule}", { rule: reason });
    }
    return scan.entries;
  };

  return async (): Promise<PortEntry[]> => {
    const [v4, v6] = await Promise.all([
      scanTable(config.iptablesSave, "ipv4"),
      config.ip6tablesSave === undefined
        ? []
        : scanTable(config.ip6tablesSave, "ipv6").catch((error) => {
          // No IPv6 NAT table here is common; say so once, keep IPv4.
          const message = (error as Error).message;
          if (!ip6Failures.has(message)) {
            ip6Failures.add(message);
            logger.warn("iptables: IPv6 rules not read: {error}", {
              error: message,
            });
          }
          return [];
        }),
    ]);
    return [...v4, ...v6];
  };
}

/**
 * Watches the NAT tables until `signal` aborts; emits a snapshot at the
 * first scan and whenever the published set changes, and status messages
 * when scanning starts or stops working.
 *
 * @param config Binaries, intervals and libc.
 * @param emit Receives snapshot and status messages.
 * @param signal Ends the watch.
 * @param options Clock, runner, change subscription and debounce.
 */
export async function watchIptables(
  config: IptablesConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: WatchIptablesOptions = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const run = options.run ?? runCommand;
  const scan = natScanner(config, run, clock, signal);
  let lastSignature: string | undefined;
  const trigger = await chooseTrigger(config, options, clock, signal, run);
  await rescanUntilAborted({
    logger,
    name: "iptables",
    clock,
    signal,
    emit,
    trigger,
    eventsName: "nf_tables change notifications",
    pollMs: config.pollIntervalMs,
    resyncMs: config.resyncIntervalMs,
    scan,
    publish(entries) {
      // A failing scan says nothing about rules: the last snapshot stays.
      const current = signature(entries);
      if (current !== lastSignature) {
        emit({ type: "snapshot", entries });
        lastSignature = current;
      }
      return undefined;
    },
  });
}

/**
 * What wakes the scans: nf_tables change notifications (debounced) where
 * they can be had, else a poll timer, with the reason.
 */
async function chooseTrigger(
  config: IptablesConfig,
  options: WatchIptablesOptions,
  clock: Clock,
  signal: AbortSignal,
  run: RunSave,
): Promise<ScanTrigger> {
  const polling = (why: string) =>
    pollingTrigger(
      clock,
      signal,
      `polling every ${config.pollIntervalMs} ms: ${why}`,
    );
  const subscribe = options.subscribe ?? await defaultSubscription(config, run);
  if (typeof subscribe === "string") return polling(subscribe);
  try {
    return changeTrigger(subscribe(), clock, signal, {
      description:
        `rescanning on nf_tables change notifications (safety-net resync every ${config.resyncIntervalMs} ms)`,
      debounceMs: options.debounceMs ?? 10,
      maxDelayMs: options.maxDelayMs ?? 50,
    });
  } catch (error) {
    return polling(
      `no nf_tables change notifications (${(error as Error).message})`,
    );
  }
}

/**
 * nf_tables notifications when iptables uses the nf_tables backend and libc
 * is known; otherwise why not (the legacy backend announces nothing).
 */
async function defaultSubscription(
  config: IptablesConfig,
  run: RunSave,
): Promise<(() => ChangeSubscription) | string> {
  if (config.libcPath === undefined) return "no libc for notifications";
  const libcPath = config.libcPath;
  const version = await runGranted(run, config.iptablesSave, ["-V"]).catch((
    error,
  ) => ({
    code: -1,
    stdout: "",
    stderr: (error as Error).message,
  }));
  const text = `${version.stdout}${version.stderr}`.trim();
  if (!text.includes("(nf_tables)")) {
    return `iptables backend is not nf_tables (${text.slice(0, 100)})`;
  }
  return () => subscribeNftChanges(libcPath);
}
