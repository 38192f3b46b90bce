/**
 * The tracker: which bindings exist, and who holds each one.
 *
 * @module
 */
import {
  type Binding,
  bindingKey,
  type PortEntry,
} from "../binding/binding.ts";

/**
 * One holder of a binding: a source and the entry its owner reported.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, PortTracker } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const tracker = new PortTracker();
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * tracker.apply({ type: "snapshot", source: "docker", entries: [{ ownerId: "c1", binding }] });
 * const [holder] = tracker.get("tcp/0.0.0.0:80")!.holders;
 * assert.deepEqual([holder!.source, holder!.entry.ownerId], ["docker", "c1"]);
 * ```
 */
export interface Holder {
  /** Name of the source that reported the entry ("docker", "procnet", …). */
  readonly source: string;
  /** The entry as reported. */
  readonly entry: PortEntry;
}

/**
 * A binding the tracker holds, with every holder of it.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, PortTracker } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const tracker = new PortTracker();
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * tracker.apply({ type: "snapshot", source: "docker", entries: [{ ownerId: "c1", binding }] });
 * const tracked = tracker.get("tcp/0.0.0.0:80")!;
 * assert.equal(tracked.binding.hostPort, 80);
 * ```
 */
export interface TrackedBinding {
  /** The binding's key (see {@linkcode bindingKey}). */
  readonly key: string;
  /** The binding. */
  readonly binding: Binding;
  /** Every (source, owner) holding the binding, oldest first; never empty. */
  readonly holders: readonly Holder[];
}

/**
 * A change to the tracker's state, from one source.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, PortTracker, type TrackerUpdate } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const tracker = new PortTracker();
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * const updates: TrackerUpdate[] = [
 *   { type: "upsert", source: "docker", ownerId: "c1", entries: [{ ownerId: "c1", binding }] },
 *   { type: "remove", source: "docker", ownerId: "c1" },
 * ];
 * for (const update of updates) tracker.apply(update);
 * assert.equal(tracker.size, 0);
 * ```
 */
export type TrackerUpdate =
  | {
    /** Replaces everything the source holds. */
    readonly type: "snapshot";
    /** The source. */
    readonly source: string;
    /** Every entry the source has now. */
    readonly entries: readonly PortEntry[];
  }
  | {
    /** Replaces everything one owner of the source holds. */
    readonly type: "upsert";
    /** The source. */
    readonly source: string;
    /** The owner. */
    readonly ownerId: string;
    /** Every entry the owner has now (entries naming another owner are rejected). */
    readonly entries: readonly PortEntry[];
  }
  | {
    /** Drops everything one owner of the source holds. */
    readonly type: "remove";
    /** The source. */
    readonly source: string;
    /** The owner. */
    readonly ownerId: string;
  };

/**
 * What one update changed. Each binding appears in at most one list.
 *
 * @example Usage
 * ```ts
 * import { makeBinding, PortTracker } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const tracker = new PortTracker();
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * const diff = tracker.apply({ type: "upsert", source: "docker", ownerId: "c1", entries: [{ ownerId: "c1", binding }] });
 * assert.deepEqual(diff.added.map((b) => b.key), ["tcp/0.0.0.0:80"]);
 * assert.deepEqual(diff.removed, []);
 * ```
 */
export interface TrackerDiff {
  /** Bindings whose first holder appeared. */
  readonly added: readonly TrackedBinding[];
  /**
   * Bindings whose last holder went, as they were before the update: every
   * holder they had then (never empty).
   */
  readonly removed: readonly TrackedBinding[];
  /** Bindings that stay but whose holders or entries changed. */
  readonly changed: readonly TrackedBinding[];
}

const HOLDER_SEPARATOR = "\u0000";

function holderId(source: string, ownerId: string): string {
  return source + HOLDER_SEPARATOR + ownerId;
}

function sameEntry(a: PortEntry, b: PortEntry): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Port bindings owned by (source, owner), keyed by binding and reference
 * counted across owners. A binding is added when its first holder appears and
 * removed when its last holder goes; an update from one source only ever
 * touches that source's holders. Pure logic: no I/O, no time.
 *
 * @example
 * ```ts
 * import { PortTracker } from "./port_tracker.ts";
 * import { makeBinding } from "../binding/binding.ts";
 * const tracker = new PortTracker();
 * const entry = { ownerId: "c1", binding: makeBinding("tcp", "0.0.0.0", 8080) };
 * const diff = tracker.apply({ type: "snapshot", source: "docker", entries: [entry] });
 * diff.added.length; // 1
 * ```
 */
export class PortTracker {
  /** source → owner → (key → entry) */
  #owners = new Map<string, Map<string, Map<string, PortEntry>>>();
  /** key → holder id → holder, in insertion order */
  #holders = new Map<string, Map<string, Holder>>();
  #bindings = new Map<string, Binding>();

  /**
   * Applies one update and returns what changed.
   *
   * @param update A snapshot, upsert or remove from one source.
   * @returns The bindings added, removed and changed.
   */
  apply(update: TrackerUpdate): TrackerDiff {
    const diff = new DiffBuilder((key) => this.get(key));
    switch (update.type) {
      case "snapshot": {
        const byOwner = groupByOwner(update.entries);
        const current = this.#owners.get(update.source);
        for (const ownerId of [...(current?.keys() ?? [])]) {
          if (!byOwner.has(ownerId)) {
            this.#replaceOwner(update.source, ownerId, [], diff);
          }
        }
        for (const [ownerId, entries] of byOwner) {
          this.#replaceOwner(update.source, ownerId, entries, diff);
        }
        break;
      }
      case "upsert": {
        const foreign = update.entries.find((entry) =>
          entry.ownerId !== update.ownerId
        );
        if (foreign !== undefined) {
          throw new TypeError(
            `Cannot upsert owner ${update.ownerId}: an entry names owner ${foreign.ownerId}`,
          );
        }
        this.#replaceOwner(update.source, update.ownerId, update.entries, diff);
        break;
      }
      case "remove":
        this.#replaceOwner(update.source, update.ownerId, [], diff);
        break;
    }
    return diff.build();
  }

  /** Every binding held now, in key order. */
  bindings(): TrackedBinding[] {
    return [...this.#holders.keys()].sort().map((key) => this.#tracked(key));
  }

  /** The binding with this key, if held. */
  get(key: string): TrackedBinding | undefined {
    return this.#holders.has(key) ? this.#tracked(key) : undefined;
  }

  /** Number of bindings held. */
  get size(): number {
    return this.#holders.size;
  }

  /** Every entry one source holds now. */
  entriesOf(source: string): PortEntry[] {
    const owners = this.#owners.get(source);
    if (owners === undefined) return [];
    return [...owners.values()].flatMap((entries) => [...entries.values()]);
  }

  /** The sources that hold at least one binding. */
  sources(): string[] {
    return [...this.#owners.keys()];
  }

  #tracked(key: string): TrackedBinding {
    const holders = this.#holders.get(key);
    const binding = this.#bindings.get(key);
    if (holders === undefined || binding === undefined) {
      throw new Error(
        `Cannot describe binding ${key}: the tracker holds it for nobody (an invariant is broken)`,
      );
    }
    return { key, binding, holders: [...holders.values()] };
  }

  #replaceOwner(
    source: string,
    ownerId: string,
    entries: readonly PortEntry[],
    diff: DiffBuilder,
  ): void {
    let owners = this.#owners.get(source);
    const previous = owners?.get(ownerId) ?? new Map<string, PortEntry>();
    const next = new Map<string, PortEntry>();
    for (const entry of entries) next.set(bindingKey(entry.binding), entry);
    const id = holderId(source, ownerId);

    for (const key of previous.keys()) {
      if (next.has(key)) continue;
      const holders = this.#holders.get(key);
      if (holders === undefined) continue;
      diff.touch(key);
      holders.delete(id);
      if (holders.size === 0) {
        this.#holders.delete(key);
        this.#bindings.delete(key);
      }
    }
    for (const [key, entry] of next) {
      const old = previous.get(key);
      if (old !== undefined && sameEntry(old, entry)) continue;
      diff.touch(key);
      let holders = this.#holders.get(key);
      if (holders === undefined) {
        holders = new Map();
        this.#holders.set(key, holders);
        this.#bindings.set(key, entry.binding);
      }
      holders.set(id, { source, entry });
    }

    if (next.size === 0) {
      owners?.delete(ownerId);
      if (owners?.size === 0) this.#owners.delete(source);
    } else {
      if (owners === undefined) {
        owners = new Map();
        this.#owners.set(source, owners);
      }
      owners.set(ownerId, next);
    }
  }
}

function groupByOwner(
  entries: readonly PortEntry[],
): Map<string, PortEntry[]> {
  const byOwner = new Map<string, PortEntry[]>();
  for (const entry of entries) {
    const list = byOwner.get(entry.ownerId);
    if (list === undefined) byOwner.set(entry.ownerId, [entry]);
    else list.push(entry);
  }
  return byOwner;
}

/** Collects the keys one update touched and classifies them at the end. */
class DiffBuilder {
  #tracked: (key: string) => TrackedBinding | undefined;
  /** Each touched key as it was before the update (undefined: not held). */
  #before = new Map<string, TrackedBinding | undefined>();

  constructor(tracked: (key: string) => TrackedBinding | undefined) {
    this.#tracked = tracked;
  }

  /** Records `key` as it was before the update first touched it. */
  touch(key: string): void {
    if (!this.#before.has(key)) this.#before.set(key, this.#tracked(key));
  }

  build(): TrackerDiff {
    const added: TrackedBinding[] = [];
    const removed: TrackedBinding[] = [];
    const changed: TrackedBinding[] = [];
    for (const [key, before] of this.#before) {
      const now = this.#tracked(key);
      if (before !== undefined && now === undefined) removed.push(before);
      else if (before === undefined && now !== undefined) added.push(now);
      else if (before !== undefined && now !== undefined) changed.push(now);
    }
    return { added, removed, changed };
  }
}
