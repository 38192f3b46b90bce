/**
 * The host-switch forwarder: exposes bindings through the host-switch API
 * (namespaced-network mode).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { bindingKey } from "../../tracker/binding.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import type { Forwarder } from "../forwarder.ts";
import {
  HostSwitchClient,
  HostSwitchError,
  type HostSwitchMapping,
} from "./host_switch_api.ts";
import { hostSwitchMapping } from "./host_switch_mapping.ts";
import {
  type ExposedRecord,
  loadExposedState,
  saveExposedState,
} from "./exposed_state.ts";

/** Options of {@linkcode HostSwitchForwarder}. */
export interface HostSwitchForwarderOptions {
  /** The API's base URL. @default "http://192.168.127.1:80" */
  readonly baseUrl?: string;
  /** Expose on the binding's own address (else 127.0.0.1). @default false */
  readonly adminInstall?: boolean;
  /** The VM's tap IP. @default "192.168.127.2" */
  readonly tapIp?: string;
  /** Where to record what this agent exposed. */
  readonly statePath: string;
  /** Time for one request, in ms. @default 3000 */
  readonly timeoutMs?: number;
}

const sameTarget = (a: HostSwitchMapping, b: HostSwitchMapping) =>
  a.local === b.local && a.protocol === b.protocol;

/**
 * Idempotent expose/unexpose: "proxy already running" for a mapping that is
 * ours (same remote) counts as done, "proxy not found" on unexpose counts as
 * done. Two bindings that map to one local address (0.0.0.0:80 and
 * 127.0.0.1:80 without admin install) share one mapping, removed with the
 * last of them. `readApplied` reads `/all` so the queue removes stale
 * mappings of earlier runs (from the state file) and re-adds missing ones.
 */
export class HostSwitchForwarder implements Forwarder {
  /** "host-switch". */
  readonly name = "host-switch";
  /** Requests at once. */
  readonly concurrency = 4;
  #client: HostSwitchClient;
  #adminInstall: boolean;
  #tapIp: string;
  #statePath: string;
  #records: Map<string, ExposedRecord> | undefined;
  #saving: Promise<void> = Promise.resolve();
  #logger = getLogger(["guest-agent", "forwarder", "host-switch"]);

  /**
   * Creates the forwarder.
   *
   * @param options API address, mapping options and state file.
   */
  constructor(options: HostSwitchForwarderOptions) {
    this.#client = new HostSwitchClient(
      options.baseUrl ?? "http://192.168.127.1:80",
      {
        timeoutMs: options.timeoutMs ?? 3000,
      },
    );
    this.#adminInstall = options.adminInstall ?? false;
    this.#tapIp = options.tapIp ?? "192.168.127.2";
    this.#statePath = options.statePath;
  }

  /** Exposes one binding. */
  async add(binding: TrackedBinding, signal: AbortSignal): Promise<void> {
    const mapping = hostSwitchMapping(binding.binding, {
      adminInstall: this.#adminInstall,
      tapIp: this.#tapIp,
    });
    if (mapping === undefined) {
      this.#logger.debug(
        "{key}: IPv6, which the host-switch API does not take",
        {
          key: binding.key,
        },
      );
      return;
    }
    const records = await this.#load();
    const shared = [...records.values()].some((r) =>
      sameTarget(r.mapping, mapping)
    );
    if (!shared) {
      try {
        await this.#client.expose(mapping, signal);
      } catch (error) {
        if (!(error instanceof HostSwitchError && error.alreadyRunning)) {
          throw error;
        }
        const existing = (await this.#client.all(signal)).find((m) =>
          sameTarget(m, mapping)
        );
        if (existing && existing.remote !== mapping.remote) {
          throw new Error(
            `${mapping.protocol} ${mapping.local} is exposed already, to ${existing.remote}, not by this agent`,
          );
        }
      }
    }
    records.set(binding.key, { binding: binding.binding, mapping });
    await this.#save();
  }

  /** Unexposes one binding (unless another binding shares its mapping). */
  async remove(binding: TrackedBinding, signal: AbortSignal): Promise<void> {
    const records = await this.#load();
    const record = records.get(binding.key);
    const mapping = record?.mapping ?? hostSwitchMapping(binding.binding, {
      adminInstall: this.#adminInstall,
      tapIp: this.#tapIp,
    });
    if (mapping === undefined) return;
    const stillShared = [...records.entries()].some(([key, r]) =>
      key !== binding.key && sameTarget(r.mapping, mapping)
    );
    if (!stillShared) {
      try {
        await this.#client.unexpose(mapping, signal);
      } catch (error) {
        if (!(error instanceof HostSwitchError && error.notFound)) throw error;
      }
    }
    records.delete(binding.key);
    await this.#save();
  }

  /**
   * The bindings this agent exposed that the host side still has; records
   * the host side lost are forgotten (the queue re-adds what is wanted).
   */
  async readApplied(signal: AbortSignal): Promise<TrackedBinding[]> {
    const records = await this.#load();
    const live = await this.#client.all(signal);
    const applied: TrackedBinding[] = [];
    for (const [key, record] of records) {
      if (live.some((m) => sameTarget(m, record.mapping))) {
        applied.push({ key, binding: record.binding, holders: [] });
      } else records.delete(key);
    }
    await this.#save();
    return applied;
  }

  async #load(): Promise<Map<string, ExposedRecord>> {
    if (this.#records) return this.#records;
    const loaded = await loadExposedState(
      this.#statePath,
      (reason) =>
        this.#logger.error("ignoring a damaged state file: {reason}", {
          reason,
        }),
    );
    this.#records ??= new Map(loaded.map((r) => [bindingKey(r.binding), r]));
    return this.#records;
  }

  #save(): Promise<void> {
    const records = this.#records ?? new Map();
    this.#saving = this.#saving
      .catch(() => {})
      .then(() => saveExposedState(this.#statePath, records.values()));
    return this.#saving;
  }
}
