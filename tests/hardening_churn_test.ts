/**
 * Hardening, bounded: a source churning ports while its worker crashes at
 * random (fault injection) and the host side (the privileged service's TCP
 * peer) goes down and up every few hundred ms. In the end the host side must
 * have exactly the truth: every binding's last message says what the churn
 * ended with. Real privileged-service forwarder, real sockets, real worker
 * restarts.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { churnPlan, churnTruth } from "./fixtures/churn_plan.ts";
import { type LineReceiver, startLineReceiver } from "./line_receiver.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { waitFor } from "./wait.ts";
import { startAgent } from "../agent/run_agent.ts";
import { fixtureSource } from "./fixtures/fixture_source.ts";

const CHURN = new URL("./fixtures/churn_source_worker.ts", import.meta.url);
const SEED = 20261124;
const STEPS = 300;

/**
 * The agent in privileged mode, sending PortMapping JSON to 127.0.0.1:`port`,
 * fed by the churn worker with `config` (tests/fixtures/churn_source_worker.ts).
 */
function startChurningAgent(
  port: number,
  shutdownTimeoutMs: number,
  config: Record<string, number>,
) {
  return startAgent({
    ...TEST_OPTIONS,
    ...onlySources(),
    mode: "privileged",
    privilegedService: true,
    vtunnelAddr: `127.0.0.1:${port}`,
    connectInterface: "lo",
    shutdownTimeoutMs,
  }, {
    registry: [fixtureSource("churn", config, { module: CHURN })],
  });
}

/** The host side's view: apply PortMapping messages in order. */
function hostState(messages: readonly string[]): Map<string, boolean> {
  const state = new Map<string, boolean>();
  for (const text of messages) {
    const message = JSON.parse(text) as {
      remove: boolean;
      ports: Record<string, { HostIp: string; HostPort: string }[]>;
    };
    for (const [spec, bindings] of Object.entries(message.ports)) {
      const protocol = spec.split("/")[1];
      for (const { HostIp, HostPort } of bindings) {
        state.set(`${protocol}/${HostIp}:${HostPort}`, !message.remove);
      }
    }
  }
  return state;
}

Deno.test("churn with a crashing worker and a flapping host side ends with exactly the truth", async () => {
  let receiver: LineReceiver = startLineReceiver({ port: 0 });
  const port = (receiver.addr as Deno.NetAddr).port;
  const received: string[] = [];
  const truth = new Set(
    [...churnTruth(churnPlan(SEED, STEPS)).values()].flat().map((p) =>
      `tcp/0.0.0.0:${p}`
    ),
  );
  const agent = await startChurningAgent(port, 2_000, {
    seed: SEED,
    steps: STEPS,
    stepMs: 2,
    crashProbability: 0.03,
    // Wall time, counted from here: a cold start type-checks the worker
    // first (measured over 1.5 s on a fresh clone), and the window must
    // still hold steps for the crashes to happen in.
    crashUntil: Date.now() + 5_000,
  });
  let flaps = 0;
  try {
    const churning = () => agent.supervisor.status()[0]?.state !== "connected";
    // Flap the host side while the churn (and its crashes) go on.
    while (churning()) {
      await new Promise((resolve) =>
        setTimeout(resolve, 150 + Math.random() * 150)
      );
      await receiver.close();
      received.push(...receiver.messages);
      await new Promise((resolve) =>
        setTimeout(resolve, 50 + Math.random() * 100)
      );
      receiver = startLineReceiver({ port });
      flaps++;
      if (flaps > 200) throw new Error("the churn never finished");
    }
    // Up for good: the agent must converge the host side to the truth.
    await waitFor(
      () => {
        const state = hostState([...received, ...receiver.messages]);
        const on = new Set([...state].filter(([, up]) => up).map(([k]) => k));
        return on.size === truth.size && [...truth].every((k) => on.has(k)) &&
          agent.queue.isCaughtUp;
      },
      20_000,
      () => ` for the host side to equal the truth (${truth.size} bindings)`,
    );
    const state = hostState([...received, ...receiver.messages]);
    for (const [key, up] of state) {
      assertEquals(up, truth.has(key), `${key}: the last message decides`);
    }
    assert(flaps >= 3, `the host side flapped ${flaps} times`);
    assert(
      (agent.supervisor.status()[0]?.restarts ?? 0) >= 1,
      "the worker crashed and was restarted at least once",
    );
  } finally {
    const report = await agent.stop();
    await receiver.close();
    assert(report.clean, "SIGTERM-equivalent stop removed everything");
  }
  // After the stop, every binding the host side had is removed there.
  const final = hostState([...received, ...receiver.messages]);
  assertEquals([...final].filter(([, up]) => up), []);
});

Deno.test("a stop in the middle of a churn removes everything the host side was given", async () => {
  const receiver = startLineReceiver({ port: 0 });
  const port = (receiver.addr as Deno.NetAddr).port;
  const agent = await startChurningAgent(port, 5_000, {
    seed: SEED + 1,
    steps: 5_000,
    stepMs: 0,
  });
  try {
    // Under load: stop once the host side has been given a good number.
    await waitFor(() => receiver.messages.length >= 200, 20_000);
  } finally {
    const report = await agent.stop();
    await receiver.close();
    assert(report.clean, `left behind: ${JSON.stringify(report.leftBehind)}`);
  }
  const state = hostState(receiver.messages);
  assertEquals([...state].filter(([, up]) => up), [], "nothing left up");
  assert(state.size > 0);
});
