import { assertEquals } from "../../tests/assert.ts";
import { FakeClock } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import type { CommandResult } from "../../support/run_command.ts";
import type { ChangeSubscription } from "./nft_changes.ts";
import { watchIptables } from "./watch_iptables.ts";
import type { IptablesConfig } from "./config.ts";

const CONFIG: IptablesConfig = {
  iptablesSave: "/sbin/iptables-save",
  ip6tablesSave: "/sbin/ip6tables-save",
  pollIntervalMs: 1000,
  resyncIntervalMs: 30_000,
};

function rule(port: number, family: "4" | "6" = "4"): string {
  const target = family === "4" ? "172.17.0.2:80" : "[fd00::2]:80";
  return `-A DOCKER -p tcp -m tcp --dport ${port} -j DNAT --to-destination ${target}`;
}

/** Fake iptables: tables by binary, a call log, scripted exit codes. */
class FakeTables {
  v4: string[] = [];
  v6: string[] = [];
  calls: string[] = [];
  exitCodes: number[] = [];
  run = (binary: string, args: readonly string[]): Promise<CommandResult> => {
    this.calls.push(`${binary.split("/").pop()} ${args.join(" ")}`);
    const code = binary.includes("ip6") ? 0 : this.exitCodes.shift() ?? 0;
    const rules = binary.includes("ip6") ? this.v6 : this.v4;
    return Promise.resolve({
      code,
      stdout: code === 0 ? ["*nat", ...rules, "COMMIT"].join("\n") : "",
      stderr: code === 0
        ? ""
        : "Another app is currently holding the xtables lock",
    });
  };
  scans(): number {
    return this.calls.filter((c) => c === "iptables-save -t nat").length;
  }
}

function start(
  tables: FakeTables,
  subscribe: (() => ChangeSubscription) | string,
) {
  const clock = new FakeClock();
  const messages: SourceMessageBody[] = [];
  const controller = new AbortController();
  const done = watchIptables(
    CONFIG,
    (m) => messages.push(m),
    controller.signal,
    {
      clock,
      run: tables.run,
      subscribe,
    },
  );
  const snapshots = () =>
    messages.flatMap((m) =>
      m.type === "snapshot"
        ? [
          m.entries.map((e) =>
            `${e.binding.protocol}/${e.binding.hostIp}:${e.binding.hostPort}`
          ),
        ]
        : []
    );
  return { clock, messages, controller, done, snapshots };
}

Deno.test("watchIptables() rescans once per burst of change notifications", async () => {
  const tables = new FakeTables();
  tables.v4 = [rule(8080)];
  tables.v6 = [rule(8443, "6")];
  let notify: () => void = () => {};
  const w = start(tables, () => (onChange, signal) => {
    notify = onChange;
    return new Promise((resolve) =>
      signal.addEventListener("abort", () => resolve())
    );
  });
  await w.clock.advance(0);
  assertEquals(w.snapshots(), [["tcp/0.0.0.0:8080", "tcp/:::8443"]]);
  assertEquals(w.messages[0], {
    type: "status",
    state: "connected",
    reason:
      "rescanning on nf_tables change notifications (safety-net resync every 30000 ms)",
  });

  tables.v4 = [rule(8080), rule(9090)];
  for (let i = 0; i < 5; i++) notify(); // NEWRULE, NEWGEN, …
  await w.clock.advance(5);
  assertEquals(w.snapshots().length, 1, "still debouncing");
  await w.clock.advance(10);
  assertEquals(w.snapshots().at(-1), [
    "tcp/0.0.0.0:8080",
    "tcp/0.0.0.0:9090",
    "tcp/:::8443",
  ]);
  assertEquals(tables.scans(), 2, "one scan for the burst");

  notify(); // a change elsewhere (filter table): scanned, nothing sent
  await w.clock.advance(20);
  assertEquals([tables.scans(), w.snapshots().length], [3, 2]);

  // A burst that never pauses still scans within maxDelayMs (50).
  tables.v4 = [];
  for (let t = 0; t < 60; t += 5) {
    notify();
    await w.clock.advance(5);
  }
  assertEquals(w.snapshots().at(-1), ["tcp/:::8443"]);
  await w.clock.advance(20); // the burst's trailing scan

  // No poll while notified; the safety net rescans after 30 s.
  const before = tables.scans();
  await w.clock.advance(29_000);
  assertEquals(tables.scans(), before);
  await w.clock.advance(1_100);
  assertEquals(tables.scans(), before + 1);

  w.controller.abort();
  await w.clock.advance(0);
  await w.done;
});

Deno.test("watchIptables() polls without notifications and waits out the xtables lock", async () => {
  const tables = new FakeTables();
  tables.v4 = [rule(8080)];
  tables.exitCodes = [4, 4]; // lock held twice, then fine
  const w = start(tables, "iptables backend is not nf_tables (legacy)");
  await w.clock.advance(200);
  assertEquals(w.snapshots(), [["tcp/0.0.0.0:8080"]]);
  assertEquals(w.messages.filter((m) => m.type === "status"), [
    {
      type: "status",
      state: "connected",
      reason:
        "polling every 1000 ms: iptables backend is not nf_tables (legacy)",
    },
  ], "a held lock is not an error");
  tables.v4 = [rule(8080), rule(9090)];
  await w.clock.advance(1000);
  assertEquals(w.snapshots().length, 2);
  assertEquals(tables.scans(), 2 + 2);
  w.controller.abort();
  await w.clock.advance(0);
  await w.done;
});

Deno.test("watchIptables() sends a snapshot when only an entry's name changes", async () => {
  // CNI portmap adds its DNAT chain's rule, then the commented jump rule
  // that names it: the same binding, a name only in the second scan.
  const chain = "CNI-DN-0123456789abcdef01234";
  const dnat =
    `-A ${chain} -p tcp -m tcp --dport 18320 -j DNAT --to-destination 10.88.0.2:8080`;
  const tables = new FakeTables();
  tables.v4 = [`:${chain} - [0:0]`, dnat];
  const w = start(tables, "iptables backend is not nf_tables (legacy)");
  await w.clock.advance(200);
  tables.v4 = [
    ":CNI-HOSTPORT-DNAT - [0:0]",
    `:${chain} - [0:0]`,
    `-A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 18320 -j ${chain} -m comment --comment "dnat name: \\"bridge\\" id: \\"web\\""`,
    dnat,
  ];
  await w.clock.advance(1000);
  const names = w.messages.flatMap((m) =>
    m.type === "snapshot" ? [m.entries.map((e) => e.name)] : []
  );
  assertEquals(names.length, 2, JSON.stringify(names));
  assertEquals(names[1], ["bridge/web"]);
  w.controller.abort();
  await w.clock.advance(0);
  await w.done;
});

Deno.test("watchIptables() keeps the last snapshot while scans fail, then recovers", async () => {
  const tables = new FakeTables();
  tables.v4 = [rule(8080)];
  const w = start(tables, "polling for this test");
  await w.clock.advance(0);
  tables.exitCodes = [1, 1, 1];
  await w.clock.advance(1000);
  assertEquals(w.messages.at(-1), {
    type: "status",
    state: "reconnecting",
    reason:
      "Cannot read the NAT table: /sbin/iptables-save -t nat exited 1: Another app is currently holding the xtables lock",
  });
  assertEquals(w.snapshots().length, 1, "no empty snapshot on failure");
  await w.clock.advance(5_000);
  assertEquals(w.messages.at(-1), {
    type: "status",
    state: "connected",
    reason: "polling every 1000 ms: polling for this test",
  });
  assertEquals(w.snapshots().length, 1, "the same rules: nothing new to send");
  w.controller.abort();
  await w.clock.advance(0);
  await w.done;
});

Deno.test("watchIptables() falls back to polling when the subscription throws or ends", async () => {
  const tables = new FakeTables();
  const w = start(
    tables,
    () => () => Promise.reject(new Error("socket closed")),
  );
  await w.clock.advance(0);
  const before = tables.scans();
  await w.clock.advance(2_000);
  assertEquals(tables.scans() >= before + 2, true, "polling after the failure");
  w.controller.abort();
  await w.clock.advance(0);
  await w.done;
});

Deno.test("watchIptables() says iptables-save was not on PATH at start when its run is refused, not --allow-run", async () => {
  const messages: SourceMessageBody[] = [];
  const controller = new AbortController();
  const clock = new FakeClock();
  const done = watchIptables(
    CONFIG,
    (m) => messages.push(m),
    controller.signal,
    {
      clock,
      run: () => {
        throw new Deno.errors.NotCapable(
          'Requires run access to "/sbin/iptables-save", run again with the --allow-run flag',
        );
      },
      subscribe: "polling for this test",
    },
  );
  await clock.advance(0);
  assertEquals(messages.at(-1), {
    type: "status",
    state: "waiting",
    reason:
      "Cannot run /sbin/iptables-save: it was not on PATH when the agent started (install iptables, then restart the agent)",
  });
  controller.abort();
  await clock.advance(0);
  await done;
});
