/**
 * Adding a forwarder is its descriptor plus one registry line: a throwaway
 * forwarder from tests/fixtures/throwaway_forwarder/ (no other file knows
 * it) goes through the CLI, the route and a running agent, beside the
 * build's own forwarders.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { parseCommandLine } from "../cli/cli.ts";
import { routeBinding } from "../agent/routes.ts";
import { startAgent } from "../agent/run_agent.ts";
import { FORWARDERS } from "../forwarding/registry.ts";
import { makeBinding } from "../binding/binding.ts";
import { throwawayForwarder } from "./fixtures/throwaway_forwarder/descriptor.ts";
import { fixtureSource } from "./fixtures/fixture_source.ts";
import { startLineReceiver } from "./line_receiver.ts";
import { waitFor } from "./wait.ts";

/** The one registry line. */
const FORWARDER_REGISTRY = [...FORWARDERS, throwawayForwarder];
/** A source holding tcp/0.0.0.0:4468, observing an API's services. */
const SOURCE_REGISTRY = [
  fixtureSource("steady", { behaviour: "steady", port: 4468 }),
];

Deno.test("a throwaway forwarder registered from a test folder: CLI, route, a running agent", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "gafwd" });
  const log = `${dir}/throwaway.log`;
  const receiver = startLineReceiver({ path: `${dir}/vtunnel.sock` });
  const argv = [
    "-privilegedService",
    "--steady",
    `--vtunnel-addr=unix://${dir}/vtunnel.sock`,
    `--throwaway-log=${log}`,
    "--control-socket=",
  ];
  try {
    await t.step("the CLI takes its flag and its help lists it", () => {
      const help = parseCommandLine(
        ["--help"],
        {},
        SOURCE_REGISTRY,
        FORWARDER_REGISTRY,
      );
      assert(help.kind === "exit");
      assertStringIncludes(help.stdout, "--throwaway-log <path>");
      const bad = parseCommandLine(
        ["--throwaway-log="],
        {},
        SOURCE_REGISTRY,
        FORWARDER_REGISTRY,
      );
      assert(bad.kind === "exit");
      assertStringIncludes(bad.stderr, "--throwaway-log");
      // Unknown to the build's own registry.
      const without = parseCommandLine(argv, {}, SOURCE_REGISTRY);
      assert(without.kind === "exit");
      assertStringIncludes(without.stderr, "throwaway-log");
    });

    await t.step("the route gives it what it takes, in its mode only", () => {
      const binding = makeBinding("tcp", "0.0.0.0", 4468);
      const held = {
        key: "tcp/0.0.0.0:4468",
        binding,
        holders: [{ source: "steady", entry: { ownerId: "c1", binding } }],
      };
      const route = (mode: "privileged" | "host-switch") =>
        routeBinding(mode, held, SOURCE_REGISTRY, FORWARDER_REGISTRY);
      assertEquals(route("privileged"), ["privileged-service", "throwaway"]);
      assertEquals(route("host-switch"), ["host-switch", "wsl-proxy"]);
    });

    await t.step(
      "a running agent made from the command line makes it and gives it the binding, and takes it back at stop",
      async () => {
        const parsed = parseCommandLine(
          argv,
          {},
          SOURCE_REGISTRY,
          FORWARDER_REGISTRY,
        );
        assert(parsed.kind === "run");
        assertEquals(parsed.options.mode, "privileged");
        const agent = await startAgent(parsed.options, {
          registry: SOURCE_REGISTRY,
          forwarderRegistry: FORWARDER_REGISTRY,
        });
        const lines = async () =>
          (await Deno.readTextFile(log).catch(() => "")).split("\n")
            .filter(Boolean);
        let stopped = false;
        try {
          const states = () =>
            agent.queue.status().filter((row) => row.key === "tcp/0.0.0.0:4468")
              .map((row) => [row.forwarder, row.state]).sort();
          const expected = [
            ["privileged-service", "forwarded"],
            ["throwaway", "forwarded"],
          ];
          await waitFor(
            () => JSON.stringify(states()) === JSON.stringify(expected),
            10_000,
            () => ` for both forwarders to have the binding: ${states()}`,
          );
          assertEquals(states(), expected);
          assertEquals(await lines(), ["+tcp/0.0.0.0:4468"]);
          assertEquals(receiver.messages.length, 1);
          const report = await agent.stop();
          stopped = true;
          assert(report.clean, JSON.stringify(report));
          assertEquals(await lines(), [
            "+tcp/0.0.0.0:4468",
            "-tcp/0.0.0.0:4468",
          ]);
        } finally {
          if (!stopped) await agent.stop();
        }
      },
    );
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});
