/**
 * startAgent() with real workers and a recording forwarder.
 *
 * @module
 */
import { waitFor } from "./wait.ts";
import { TEST_OPTIONS } from "./test_options.ts";
import { assert, assertEquals } from "./assert.ts";
import { startAgent } from "../agent/run_agent.ts";
import { fixtureSource } from "./fixtures/fixture_source.ts";
import { RecordingForwarder } from "./recording_forwarder.ts";
import { StageProfile } from "../support/stage_profile.ts";
import type { PortMessage } from "../sources/messages.ts";

Deno.test("startAgent() keeps a crashing source's ports while it restarts", async () => {
  const forwarder = new RecordingForwarder();
  const agent = await startAgent({
    ...TEST_OPTIONS,
    shutdownTimeoutMs: 2000,
  }, {
    forwarders: [forwarder],
    registry: [fixtureSource("crashing", { behaviour: "fatal", port: 4321 })],
    route: () => [forwarder.name],
  });
  try {
    await waitFor(() => (agent.supervisor.status()[0]?.restarts ?? 0) >= 3);
    assertEquals(agent.tracker.bindings().map((b) => b.key), [
      "tcp/0.0.0.0:4321",
    ]);
    assertEquals(
      forwarder.history,
      ["+tcp/0.0.0.0:4321"],
      "added once, never removed",
    );
  } finally {
    const report = await agent.stop();
    assert(report.clean);
  }
  assertEquals(forwarder.history, ["+tcp/0.0.0.0:4321", "-tcp/0.0.0.0:4321"]);
});

Deno.test("startAgent().stop() is bounded and reports what it could not remove", async () => {
  const forwarder = new RecordingForwarder();
  const agent = await startAgent(
    { ...TEST_OPTIONS, shutdownTimeoutMs: 300 },
    {
      forwarders: [forwarder],
      registry: [fixtureSource("steady", { behaviour: "none", port: 5555 })],
      route: () => [forwarder.name],
    },
  );
  await waitFor(() => forwarder.history.length === 1);
  forwarder.failRemoves = true;
  const started = performance.now();
  const report = await agent.stop();
  const elapsed = performance.now() - started;
  assertEquals(report.clean, false);
  assertEquals(
    report.leftBehind.map((row) => [row.key, row.state, row.lastError]),
    [
      ["tcp/0.0.0.0:5555", "retrying", "host side gone"],
    ],
  );
  assert(elapsed < 3_000, `stop took ${elapsed} ms`);
});

Deno.test("startAgent() with a stage profile stamps every stage of an upsert, in order", async () => {
  const forwarder = new RecordingForwarder();
  const stageProfile = new StageProfile();
  const agent = await startAgent(TEST_OPTIONS, {
    forwarders: [forwarder],
    registry: [fixtureSource("events", { behaviour: "upsert", port: 6000 })],
    route: () => [forwarder.name],
    stageProfile,
  });
  try {
    await waitFor(() =>
      stageProfile.traces().some((t) => t.key === "tcp/0.0.0.0:6001")
    );
  } finally {
    await agent.stop();
  }
  const traces = stageProfile.traces();
  // The snapshot's binding has no trace: only messages with stamps open one.
  assertEquals(traces.map((t) => [t.key, t.source]), [
    ["tcp/0.0.0.0:6001", "events"],
  ]);
  const stamps = traces[0]!.stamps;
  const inOrder = [
    "seen",
    "looked up",
    "posted",
    "received",
    "checked",
    "tracked",
    "queued",
    "called",
    "delivered",
  ];
  assertEquals(Object.keys(stamps).sort(), [...inOrder, "routed"].sort());
  for (let i = 1; i < inOrder.length; i++) {
    assert(
      stamps[inOrder[i]!]! >= stamps[inOrder[i - 1]!]!,
      `${inOrder[i]} before ${inOrder[i - 1]}: ${JSON.stringify(stamps)}`,
    );
  }
  assert(stamps.routed! >= stamps.called!, JSON.stringify(stamps));
});

Deno.test("startAgent() without a stage profile: workers stamp nothing", async () => {
  const forwarder = new RecordingForwarder();
  const seen: PortMessage[] = [];
  const agent = await startAgent(TEST_OPTIONS, {
    forwarders: [forwarder],
    registry: [fixtureSource("events", { behaviour: "upsert", port: 6000 })],
    route: () => [forwarder.name],
    onSourceMessage: (_source, message) => seen.push(message),
  });
  try {
    await waitFor(() => seen.some((m) => m.type === "upsert"));
  } finally {
    await agent.stop();
  }
  const upsert = seen.find((m) => m.type === "upsert")!;
  assert(upsert.type === "upsert" && upsert.observedAt !== undefined);
  assertEquals(upsert.stages, undefined);
});
