import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import { bindingKey, makeBinding, type PortEntry } from "../binding/binding.ts";
import { PortTracker, type TrackerUpdate } from "./port_tracker.ts";

function entry(ownerId: string, port: number, hostIp = "0.0.0.0"): PortEntry {
  return { ownerId, binding: makeBinding("tcp", hostIp, port) };
}

function keys(list: readonly { key: string }[]): string[] {
  return list.map((b) => b.key).sort();
}

Deno.test("PortTracker.apply() adds a binding once for its first holder", () => {
  const tracker = new PortTracker();
  const first = tracker.apply({
    type: "upsert",
    source: "docker",
    ownerId: "c1",
    entries: [entry("c1", 8080)],
  });
  assertEquals(keys(first.added), ["tcp/0.0.0.0:8080"]);
  const second = tracker.apply({
    type: "snapshot",
    source: "iptables",
    entries: [entry("rule-1", 8080)],
  });
  assertEquals(second.added, []);
  assertEquals(keys(second.changed), ["tcp/0.0.0.0:8080"]);
  assertEquals(tracker.get("tcp/0.0.0.0:8080")?.holders.length, 2);
});

Deno.test("PortTracker.apply() keeps a binding another source still holds", () => {
  const tracker = new PortTracker();
  tracker.apply({
    type: "snapshot",
    source: "docker",
    entries: [entry("c1", 80)],
  });
  tracker.apply({
    type: "snapshot",
    source: "iptables",
    entries: [entry("r1", 80)],
  });
  const diff = tracker.apply({
    type: "snapshot",
    source: "docker",
    entries: [],
  });
  assertEquals(diff.removed, []);
  assertEquals(tracker.size, 1);
  const last = tracker.apply({
    type: "remove",
    source: "iptables",
    ownerId: "r1",
  });
  assertEquals(keys(last.removed), ["tcp/0.0.0.0:80"]);
  assertEquals(last.removed[0]?.holders[0]?.source, "iptables");
  assertEquals(tracker.size, 0);
  assertEquals(tracker.sources(), []);
});

Deno.test("PortTracker.apply() replaces a source's state with a snapshot", () => {
  const tracker = new PortTracker();
  tracker.apply({
    type: "snapshot",
    source: "docker",
    entries: [entry("c1", 80), entry("c2", 81)],
  });
  const diff = tracker.apply({
    type: "snapshot",
    source: "docker",
    entries: [entry("c2", 81), entry("c3", 82)],
  });
  assertEquals(keys(diff.added), ["tcp/0.0.0.0:82"]);
  assertEquals(keys(diff.removed), ["tcp/0.0.0.0:80"]);
  assertEquals(diff.changed, []);
});

Deno.test("PortTracker.apply() reports an entry whose details changed", () => {
  const tracker = new PortTracker();
  tracker.apply({
    type: "upsert",
    source: "docker",
    ownerId: "c1",
    entries: [{ ...entry("c1", 80), containerPort: 8080 }],
  });
  const diff = tracker.apply({
    type: "upsert",
    source: "docker",
    ownerId: "c1",
    entries: [{ ...entry("c1", 80), containerPort: 9090 }],
  });
  assertEquals(keys(diff.changed), ["tcp/0.0.0.0:80"]);
  const same = tracker.apply({
    type: "upsert",
    source: "docker",
    ownerId: "c1",
    entries: [{ ...entry("c1", 80), containerPort: 9090 }],
  });
  assertEquals(same, { added: [], removed: [], changed: [] });
});

Deno.test("PortTracker.apply() rejects an upsert naming another owner", () => {
  const tracker = new PortTracker();
  assertThrows(
    () =>
      tracker.apply({
        type: "upsert",
        source: "docker",
        ownerId: "c1",
        entries: [entry("c2", 80)],
      }),
    TypeError,
    "names owner c2",
  );
  assertEquals(tracker.size, 0);
});

Deno.test("PortTracker.apply() keeps IPv4 and IPv6 wildcards apart", () => {
  const tracker = new PortTracker();
  const diff = tracker.apply({
    type: "snapshot",
    source: "docker",
    entries: [entry("c1", 80, "0.0.0.0"), entry("c1", 80, "::")],
  });
  assertEquals(keys(diff.added), ["tcp/0.0.0.0:80", "tcp/[::]:80"]);
});

// ---- property test: random interleavings from several sources ----

const SOURCES = ["docker", "containerd", "iptables"] as const;
const OWNERS = ["a", "b", "c", "d"] as const;

const entryArb = fc.record({
  ownerId: fc.constantFrom(...OWNERS),
  protocol: fc.constantFrom("tcp", "udp"),
  hostIp: fc.constantFrom("0.0.0.0", "::", "127.0.0.1"),
  hostPort: fc.integer({ min: 1, max: 6 }),
  containerPort: fc.integer({ min: 1, max: 3 }),
}).map((e): PortEntry => ({
  ownerId: e.ownerId,
  binding: makeBinding(e.protocol, e.hostIp, e.hostPort),
  containerPort: e.containerPort,
}));

const updateArb: fc.Arbitrary<TrackerUpdate> = fc.oneof(
  fc.record({
    type: fc.constant("snapshot" as const),
    source: fc.constantFrom(...SOURCES),
    entries: fc.array(entryArb, { maxLength: 8 }),
  }),
  fc.record({
    source: fc.constantFrom(...SOURCES),
    ownerId: fc.constantFrom(...OWNERS),
    entries: fc.array(entryArb, { maxLength: 4 }),
  }).map(({ source, ownerId, entries }): TrackerUpdate => ({
    type: "upsert",
    source,
    ownerId,
    entries: entries.map((e) => ({ ...e, ownerId })),
  })),
  fc.record({
    type: fc.constant("remove" as const),
    source: fc.constantFrom(...SOURCES),
    ownerId: fc.constantFrom(...OWNERS),
  }),
);

/** The model: each source's owners and their entries, as plain maps. */
function applyToModel(
  model: Map<string, Map<string, PortEntry[]>>,
  update: TrackerUpdate,
): void {
  const owners = model.get(update.source) ?? new Map<string, PortEntry[]>();
  model.set(update.source, owners);
  if (update.type === "snapshot") {
    owners.clear();
    for (const e of update.entries) {
      owners.set(e.ownerId, [...(owners.get(e.ownerId) ?? []), e]);
    }
  } else if (update.type === "upsert") {
    owners.set(update.ownerId, [...update.entries]);
  } else {
    owners.delete(update.ownerId);
  }
}

function modelKeys(model: Map<string, Map<string, PortEntry[]>>): string[] {
  const all = new Set<string>();
  for (const owners of model.values()) {
    for (const entries of owners.values()) {
      for (const e of entries) all.add(bindingKey(e.binding));
    }
  }
  return [...all].sort();
}

Deno.test("PortTracker equals the union of every source's latest state", () => {
  fc.assert(
    fc.property(fc.array(updateArb, { maxLength: 60 }), (updates) => {
      const tracker = new PortTracker();
      const model = new Map<string, Map<string, PortEntry[]>>();
      const forwarded = new Set<string>();
      for (const update of updates) {
        const diff = tracker.apply(update);
        applyToModel(model, update);
        for (const added of diff.added) {
          assert(!forwarded.has(added.key), `added twice: ${added.key}`);
          forwarded.add(added.key);
        }
        for (const removed of diff.removed) {
          assert(
            forwarded.delete(removed.key),
            `removed unseen: ${removed.key}`,
          );
        }
        for (const changed of diff.changed) {
          assert(forwarded.has(changed.key), `changed unseen: ${changed.key}`);
        }
        const expected = modelKeys(model);
        assertEquals(keys(tracker.bindings()), expected);
        assertEquals([...forwarded].sort(), expected);
        for (const source of SOURCES) {
          const sourceKeys = new Set(
            [...(model.get(source)?.values() ?? [])].flat().map((e) =>
              `${e.ownerId}|${bindingKey(e.binding)}`
            ),
          );
          const trackerKeys = new Set(
            tracker.entriesOf(source).map((e) =>
              `${e.ownerId}|${bindingKey(e.binding)}`
            ),
          );
          assertEquals(trackerKeys, sourceKeys, `state of ${source}`);
        }
      }
    }),
    { numRuns: 400 },
  );
});

Deno.test("PortTracker never lets one source remove another's binding", () => {
  fc.assert(
    fc.property(
      fc.array(entryArb, { minLength: 1, maxLength: 6 }),
      fc.array(updateArb, { maxLength: 30 }),
      (held, noise) => {
        const tracker = new PortTracker();
        tracker.apply({
          type: "snapshot",
          source: "kubernetes",
          entries: held,
        });
        for (const update of noise) tracker.apply(update);
        for (const e of held) {
          const tracked = tracker.get(bindingKey(e.binding));
          assert(tracked !== undefined, `lost ${bindingKey(e.binding)}`);
          assert(tracked.holders.some((h) => h.source === "kubernetes"));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("PortTracker: a removed binding lists every holder it had, not only the last", () => {
  const tracker = new PortTracker();
  const binding = makeBinding("tcp", "0.0.0.0", 8080);
  const snapshot = (source: string, ...owners: string[]) =>
    tracker.apply({
      type: "snapshot",
      source,
      entries: owners.map((ownerId) => ({ ownerId, binding })),
    });
  const removedHolders = (diff: ReturnType<typeof snapshot>) =>
    diff.removed.map((gone) =>
      gone.holders.map((h) => `${h.source}:${h.entry.ownerId}`).sort()
    );
  snapshot("docker", "a", "b");
  snapshot("iptables", "rule");
  assertEquals(removedHolders(snapshot("docker")), []);
  assertEquals(removedHolders(snapshot("iptables")), [["iptables:rule"]]);
  snapshot("docker", "a", "b");
  assertEquals(removedHolders(snapshot("docker")), [["docker:a", "docker:b"]]);
});
