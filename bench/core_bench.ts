/**
 * Benchmarks of the pure core: tracker, message guard, delivery queue,
 * /proc/net parsing. Run with `deno task bench`.
 *
 * @module
 */
import { parseNatTable } from "../sources/iptables/parse_iptables.ts";
import { DeliveryQueue } from "../forwarding/delivery_queue.ts";
import { parseSourceMessage } from "../sources/messages.ts";
import { parseProcNet } from "../support/parse_proc_net.ts";
import { makeBinding, type PortEntry } from "../binding/binding.ts";
import { PortTracker } from "../tracker/port_tracker.ts";

const CONTAINERS = 1_000;
const PORTS = 10;

function entries(shift = 0): PortEntry[] {
  const list: PortEntry[] = [];
  for (let c = 0; c < CONTAINERS; c++) {
    for (let p = 0; p < PORTS; p++) {
      list.push({
        ownerId: `container-${c}`,
        binding: makeBinding("tcp", "0.0.0.0", 10_000 + c * PORTS + p + shift),
        containerPort: 80 + p,
        containerIps: ["172.17.0.2"],
        name: `web-${c}`,
      });
    }
  }
  return list;
}

const snapshot = entries();
const shifted = entries(5);

Deno.bench(
  "tracker: snapshot of 1,000 containers × 10 ports into an empty tracker",
  {
    group: "tracker",
    baseline: true,
  },
  () => {
    new PortTracker().apply({
      type: "snapshot",
      source: "docker",
      entries: snapshot,
    });
  },
);

const loaded = new PortTracker();
loaded.apply({ type: "snapshot", source: "docker", entries: snapshot });
let flip = false;
const owner = "container-500";
const ownerEntries = snapshot.filter((e) => e.ownerId === owner);
const ownerShifted = shifted.filter((e) => e.ownerId === owner);
Deno.bench("tracker: upsert one owner (10 ports) among 1,000", {
  group: "tracker",
}, () => {
  flip = !flip;
  loaded.apply({
    type: "upsert",
    source: "docker",
    ownerId: owner,
    entries: flip ? ownerShifted : ownerEntries,
  });
});

Deno.bench("tracker: re-snapshot with half the ports moved", {
  group: "tracker",
}, () => {
  flip = !flip;
  loaded.apply({
    type: "snapshot",
    source: "docker",
    entries: flip ? shifted : snapshot,
  });
});

const wire = JSON.parse(
  JSON.stringify({ v: 1, type: "snapshot", entries: snapshot }),
);
Deno.bench("guard: check a 10,000-entry snapshot message", () => {
  parseSourceMessage(wire);
});

Deno.bench(
  "delivery queue: 10,000 bindings to a no-op forwarder until settled",
  async () => {
    const tracker = new PortTracker();
    const diff = tracker.apply({
      type: "snapshot",
      source: "docker",
      entries: snapshot,
    });
    const queue = new DeliveryQueue([{
      name: "noop",
      concurrency: 64,
      add: () => Promise.resolve(),
      remove: () => Promise.resolve(),
    }]);
    for (const binding of diff.added) queue.want("noop", binding);
    await queue.caughtUp();
    await queue.close();
  },
);

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const procLines = [HEADER];
for (let i = 0; i < 1_000; i++) {
  const port = (1024 + i).toString(16).toUpperCase().padStart(4, "0");
  procLines.push(
    `${i}: 00000000:${port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${
      10_000 + i
    } 1 0000000000000000 100 0 0 10 0`,
  );
}
const procText = procLines.join("\n");
Deno.bench("procnet: parse a table of 1,000 sockets", () => {
  parseProcNet(procText, "tcp");
});

// Checks the bench inputs once, so a broken setup fails loudly.
if (makeBinding("tcp", "", 1).hostIp !== "0.0.0.0") {
  throw new Error("bad setup");
}

const NAT_5000 = [
  "*nat",
  ":DOCKER - [0:0]",
  ...Array.from(
    { length: 5_000 },
    (_, i) =>
      `-A DOCKER ! -i docker0 -p tcp -m tcp --dport ${
        1 + i
      } -j DNAT --to-destination 172.17.${i >> 8}.${i & 255}:80`,
  ),
  "COMMIT",
].join("\n");

Deno.bench("parseNatTable: 5,000 DOCKER rules", () => {
  parseNatTable(NAT_5000, "ipv4");
});
