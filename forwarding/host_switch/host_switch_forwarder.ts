/**
 * The host-switch forwarder: exposes bindings through the host-switch API
 * (namespaced-network mode), converging with what the host side lists.
 *
 * Slightly over ~300 lines: ownership, adoption and the per-mapping order
 * are one contract with the host side.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  bindingKey,
  makeBinding,
  type Protocol,
} from "../../binding/binding.ts";
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
  /**
   * Read `/all` this often to notice a host side that lost its mappings
   * (restarted) without waiting for a failed call, in ms. @default 5000
   */
  readonly auditEveryMs?: number;
  /**
   * The IPv4 address an IPv6 binding is exposed as, when the tap address
   * reaches it over IPv4 (a VM listener on [::1] through the loopback relay:
   * "127.0.0.1"; a [::] one, dual-stack or relayed: "0.0.0.0"); undefined
   * leaves it skipped. @default none: every IPv6 binding is skipped
   */
  readonly exposeIpv6As?: (binding: TrackedBinding) => string | undefined;
}

/** Why an IPv6 binding gets no mapping. */
export const IPV6_SKIP_REASON = "IPv6: the host-switch API takes IPv4 only";

/** `tcp 127.0.0.1:8080`: what the API keys a mapping by. */
const targetKey = (m: Pick<HostSwitchMapping, "local" | "protocol">) =>
  `${m.protocol} ${m.local}`;

const portOf = (address: string) => address.slice(address.lastIndexOf(":") + 1);

/**
 * Exposes each IPv4 binding as one mapping (`local` 127.0.0.1:P, or the
 * binding's own address with admin install; `remote` tapIp:P).
 *
 * Ownership comes from the host side itself: a mapping on `/all` whose
 * remote is this VM's tap address on the same port as its local side is
 * this agent's (gvproxy's own ssh mapping, 2222 → 22, is not), and so is
 * one the state file recorded. {@linkcode readApplied} adopts the ones a
 * wanted binding needs, returns the others so the queue removes them, and
 * never returns anyone else's; the queue calls it at start, after any
 * failure and every `auditEveryMs`, so a host side that restarted empty is
 * refilled. An expose answered with an error (v0.8.1 answers a duplicate
 * with "address already in use", later versions "proxy already running")
 * counts as done only when `/all` shows the mapping, ours. Two bindings
 * that map to one mapping (0.0.0.0:80 and 127.0.0.1:80 without admin
 * install) share it; it goes with the last of them. Calls for one mapping
 * run one at a time.
 */
export class HostSwitchForwarder implements Forwarder {
  /** "host-switch". */
  readonly name = "host-switch";
  /** Requests at once. */
  readonly concurrency = 4;
  /** How often the queue reads `/all` unasked. */
  readonly auditEveryMs: number;
  #client: HostSwitchClient;
  #adminInstall: boolean;
  #tapIp: string;
  #statePath: string;
  /** Binding key → the mapping exposed (or adopted) for it. */
  #records: Map<string, ExposedRecord> | undefined;
  /** Mappings an earlier run recorded: ours even with another remote. */
  #recorded = new Set<string>();
  #saving: Promise<void> = Promise.resolve();
  /** The tail of the calls queued per mapping (one at a time each). */
  #perMapping = new Map<string, Promise<unknown>>();
  #exposeIpv6As: (binding: TrackedBinding) => string | undefined;
  #logger = getLogger(["guest-agent", "forwarder", "host-switch"]);

  /**
   * Creates the forwarder.
   *
   * @param options API address, mapping options and state file.
   */
  constructor(options: HostSwitchForwarderOptions) {
    this.#client = new HostSwitchClient(
      options.baseUrl ?? "http://192.168.127.1:80",
      { timeoutMs: options.timeoutMs ?? 3000 },
    );
    this.#adminInstall = options.adminInstall ?? false;
    this.#tapIp = options.tapIp ?? "192.168.127.2";
    this.#statePath = options.statePath;
    this.auditEveryMs = options.auditEveryMs ?? 5000;
    this.#exposeIpv6As = options.exposeIpv6As ?? (() => undefined);
  }

  /** IPv6 bindings have no mapping: the API takes IPv4 only. */
  skipReason(binding: TrackedBinding): string | undefined {
    return this.#mapping(binding) === undefined ? IPV6_SKIP_REASON : undefined;
  }

  /** Exposes one binding (nothing when a binding sharing its mapping did). */
  add(tracked: TrackedBinding, signal: AbortSignal): Promise<void> {
    const mapping = this.#mapping(tracked);
    if (mapping === undefined) return Promise.resolve();
    return this.#oneAtATime(targetKey(mapping), async () => {
      const records = await this.#load();
      const shared = [...records.values()].some((r) =>
        targetKey(r.mapping) === targetKey(mapping)
      );
      if (!shared) await this.#expose(mapping, signal);
      records.set(tracked.key, { binding: tracked.binding, mapping });
      await this.#save();
    });
  }

  /** Unexposes one binding's mapping (unless another binding shares it). */
  async remove(binding: TrackedBinding, signal: AbortSignal): Promise<void> {
    const records = await this.#load();
    const mapping = records.get(binding.key)?.mapping ??
      this.#mapping(binding);
    if (mapping === undefined) return;
    await this.#oneAtATime(targetKey(mapping), async () => {
      const stillShared = [...records.entries()].some(([key, r]) =>
        key !== binding.key && targetKey(r.mapping) === targetKey(mapping)
      );
      if (!stillShared) {
        try {
          await this.#client.unexpose(mapping, signal);
        } catch (error) {
          if (!(error instanceof HostSwitchError && error.notFound)) {
            throw error;
          }
        }
      }
      records.delete(binding.key);
      await this.#save();
    });
  }

  /**
   * Reads `/all`: each wanted binding whose mapping is there, ours, is
   * applied (adopted); each mapping of ours that no wanted binding needs is
   * returned under the key of the binding it would serve, to be removed.
   * Mappings of others are left out.
   */
  async readApplied(
    signal: AbortSignal,
    wanted: readonly TrackedBinding[],
  ): Promise<TrackedBinding[]> {
    const records = await this.#load();
    const live = new Map<string, HostSwitchMapping>();
    for (const mapping of await this.#client.all(signal)) {
      if (this.#isOwn(mapping)) live.set(targetKey(mapping), mapping);
    }
    const applied = new Map<string, TrackedBinding>();
    const next = new Map<string, ExposedRecord>();
    const keep = (tracked: TrackedBinding, mapping: HostSwitchMapping) => {
      applied.set(tracked.key, tracked);
      next.set(tracked.key, { binding: tracked.binding, mapping });
    };
    for (const binding of wanted) {
      const mapping = this.#mapping(binding);
      const found = mapping && live.get(targetKey(mapping));
      if (found) keep(binding, found);
    }
    // Recorded bindings no longer wanted, then bare leftovers: removed by
    // the queue, each under a key no wanted binding has.
    for (const [key, record] of records) {
      const found = live.get(targetKey(record.mapping));
      if (found && !applied.has(key)) {
        keep(leftover(record.binding, "recorded by this agent"), found);
      }
    }
    const served = new Set([...next.values()].map((r) => targetKey(r.mapping)));
    for (const [target, mapping] of live) {
      if (served.has(target)) continue;
      const binding = this.#bindingOf(mapping);
      if (binding && !applied.has(binding.key)) {
        keep(binding, mapping);
      }
    }
    this.#records = next;
    await this.#save();
    return [...applied.values()];
  }

  /** Runs `call` after every earlier call for `target` has ended. */
  #oneAtATime<T>(target: string, call: () => Promise<T>): Promise<T> {
    const before = this.#perMapping.get(target) ?? Promise.resolve();
    const result = before.catch(() => {}).then(call);
    const tail = result.catch(() => {});
    this.#perMapping.set(target, tail);
    tail.then(() => {
      if (this.#perMapping.get(target) === tail) {
        this.#perMapping.delete(target);
      }
    });
    return result;
  }

  #mapping(tracked: TrackedBinding): HostSwitchMapping | undefined {
    const ipv4 = tracked.binding.hostIp.includes(":")
      ? this.#exposeIpv6As(tracked)
      : undefined;
    return hostSwitchMapping(
      ipv4 ? { ...tracked.binding, hostIp: ipv4 } : tracked.binding,
      {
        adminInstall: this.#adminInstall,
        tapIp: this.#tapIp,
      },
    );
  }

  /** Ours: remote is our tap address on the local port, or recorded by us. */
  #isOwn(mapping: HostSwitchMapping): boolean {
    if (this.#recorded.has(`${targetKey(mapping)} ${mapping.remote}`)) {
      return true;
    }
    return mapping.remote === `${this.#tapIp}:${portOf(mapping.local)}` &&
      (mapping.protocol === "tcp" || mapping.protocol === "udp");
  }

  /** The binding a mapping of ours serves (its local address and port). */
  #bindingOf(mapping: HostSwitchMapping): TrackedBinding | undefined {
    try {
      const host = mapping.local.slice(0, mapping.local.lastIndexOf(":"));
      const binding = makeBinding(
        mapping.protocol as Protocol,
        host,
        Number(portOf(mapping.local)),
      );
      return leftover(binding, "left on the host side");
    } catch {
      return undefined; // not a tcp/udp address:port we could have made
    }
  }

  async #expose(
    mapping: HostSwitchMapping,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.#client.expose(mapping, signal);
    } catch (error) {
      if (!(error instanceof HostSwitchError)) throw error;
      // A duplicate (either version's answer) or a mapping another program
      // holds: only /all can tell.
      const existing = (await this.#client.all(signal)).find((m) =>
        targetKey(m) === targetKey(mapping)
      );
      if (existing === undefined) throw error;
      if (existing.remote !== mapping.remote) {
        throw new Error(
          `Cannot expose ${mapping.protocol} ${mapping.local}: it is exposed already, to ${existing.remote}, not by this agent`,
        );
      }
      this.#logger.debug("{target}: on the host side already; adopted", {
        target: targetKey(mapping),
      });
    }
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
    for (const record of loaded) {
      this.#recorded.add(
        `${targetKey(record.mapping)} ${record.mapping.remote}`,
      );
    }
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

/** A binding nobody wants any more, with a holder that says so. */
function leftover(
  binding: TrackedBinding["binding"],
  why: string,
): TrackedBinding {
  return {
    key: bindingKey(binding),
    binding,
    holders: [{
      source: "host-switch",
      entry: { ownerId: bindingKey(binding), binding, name: why },
    }],
  };
}
