/**
 * Scale: 1,000 owners × 10 ports from a synthetic source into the real
 * tracker, delivery queue and listener forwarder (10,000 real listening
 * sockets), inside a network namespace of its own (root needed; the bench
 * re-runs itself there, with the start task's V8 flags):
 *
 * - time until all 10,000 bindings are forwarded (converged), and until all
 *   are removed again;
 * - tracker operations per second (snapshot apply, per-owner upserts);
 * - RSS growth.
 *
 * Run: `deno run --allow-all bench/scale_figures.ts [owners] [ports per owner]`
 *
 * @module
 */
import { DeliveryQueue } from "../forwarding/delivery_queue.ts";
import { ListenerForwarder } from "../forwarding/listeners/listener_forwarder.ts";
import { makeBinding, type PortEntry } from "../binding/binding.ts";
import { PortTracker, type TrackerDiff } from "../tracker/port_tracker.ts";
import { canCreateNamespaces, createTestNamespace } from "../tests/netns.ts";
import { print, reportValue } from "./latency_support.ts";
import { AGENT_V8_FLAGS } from "../tests/agent_runtime.ts";

const OWNERS = Number(Deno.args[0] ?? 1000);
const PER_OWNER = Number(Deno.args[1] ?? 10);
const INSIDE = Deno.args.includes("--inside");

if (!INSIDE) {
  if (!await canCreateNamespaces()) {
    print("scale_figures: needs root and ip netns", Deno.stderr);
    Deno.exit(1);
  }
  const ns = await createTestNamespace("ga-scale");
  let code = 1;
  try {
    const child = ns.spawn(
      [
        Deno.execPath(),
        "run",
        "--allow-all",
        ...AGENT_V8_FLAGS,
        new URL(import.meta.url).pathname,
        String(OWNERS),
        String(PER_OWNER),
        "--inside",
      ],
      { stdout: "inherit", stderr: "inherit" },
    );
    code = (await child.status).code;
  } finally {
    await ns.delete();
  }
  Deno.exit(code);
}

const mib = () => Deno.memoryUsage().rss / 1024 / 1024;
function entriesOf(owner: number, shift = 0): PortEntry[] {
  return Array.from({ length: PER_OWNER }, (_, i) => ({
    ownerId: `o${owner}`,
    binding: makeBinding(
      "tcp",
      "0.0.0.0",
      10_000 + ((owner * PER_OWNER + i + shift) % 50_000),
    ),
    name: `container-${owner}`,
  }));
}

const rssBefore = mib();
const tracker = new PortTracker();
const listeners = new ListenerForwarder();
const queue = new DeliveryQueue([listeners]);
const route = (diff: TrackerDiff) => {
  for (const gone of diff.removed) queue.unwant("listeners", gone.key);
  for (const binding of [...diff.added, ...diff.changed]) {
    queue.want("listeners", binding);
  }
};

const all = Array.from({ length: OWNERS }, (_, owner) => entriesOf(owner))
  .flat();
let start = performance.now();
route(tracker.apply({ type: "snapshot", source: "synthetic", entries: all }));
const snapshotMs = performance.now() - start;
await queue.caughtUp();
const convergeMs = performance.now() - start;
const rssForwarded = mib();

// Per-owner upserts that move every owner's ports by one (a churn).
start = performance.now();
for (let owner = 0; owner < OWNERS; owner++) {
  route(tracker.apply({
    type: "upsert",
    source: "synthetic",
    ownerId: `o${owner}`,
    entries: entriesOf(owner, OWNERS * PER_OWNER),
  }));
}
const upsertMs = performance.now() - start;
await queue.caughtUp();
const churnMs = performance.now() - start;

start = performance.now();
route(tracker.apply({ type: "snapshot", source: "synthetic", entries: [] }));
await queue.caughtUp();
const removeMs = performance.now() - start;
await queue.close();

const total = OWNERS * PER_OWNER;
print(
  `${OWNERS} owners × ${PER_OWNER} ports = ${total} bindings, real listeners in a network namespace`,
);
print(
  `snapshot into the tracker: ${snapshotMs.toFixed(1)} ms (${
    Math.round(total / snapshotMs * 1000)
  } entries/s); converged (all listening): ${convergeMs.toFixed(0)} ms`,
);
print(
  `${OWNERS} per-owner upserts moving every port: tracker ${
    upsertMs.toFixed(1)
  } ms (${Math.round(OWNERS / upsertMs * 1000)} upserts/s); converged ${
    churnMs.toFixed(0)
  } ms`,
);
print(`all removed: ${removeMs.toFixed(0)} ms`);
reportValue(
  `${total} bindings: snapshot → all listening`,
  convergeMs,
  "ms",
  1000,
);
reportValue(
  `${total} bindings: tracker entries per second`,
  Math.round(total / snapshotMs * 1000),
  "entries/s",
);
reportValue(`${total} bindings: RSS growth`, rssForwarded - rssBefore, "MiB");
print(
  `RSS: ${rssBefore.toFixed(1)} MiB before, ${
    rssForwarded.toFixed(1)
  } MiB with ${total} bindings forwarded (+${
    (rssForwarded - rssBefore).toFixed(1)
  } MiB)`,
);
