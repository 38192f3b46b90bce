/**
 * Adding a source is one folder plus one registry line: a throwaway source
 * from tests/fixtures/throwaway/ (a descriptor, a config module and a worker;
 * no other file knows it) goes through the CLI, planning, routing and the
 * supervisor of a running agent.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { parseCommandLine } from "../cli/cli.ts";
import { planSources } from "../agent/plan_sources.ts";
import { routeBinding } from "../agent/routes.ts";
import { startAgent } from "../agent/run_agent.ts";
import type { MachineProbe } from "../sources/probe.ts";
import { SOURCES } from "../sources/registry.ts";
import { makeBinding } from "../binding/binding.ts";
import { throwawaySource } from "./fixtures/throwaway/source.ts";
import { waitFor } from "./wait.ts";

/** The one registry line. */
const REGISTRY = [...SOURCES, throwawaySource];

/** A machine where only the throwaway source's marker exists. */
const probe: MachineProbe = {
  exists: (path) => Promise.resolve(path === "/throwaway-marker"),
  isRoot: () => false,
  which: () => Promise.resolve(undefined),
  libcPath: () => undefined,
};

Deno.test("a throwaway source registered from a test folder: CLI, planning, routing, supervisor", async (t) => {
  await t.step("the CLI takes its flags and its help lists them", () => {
    const help = parseCommandLine(["--help"], {}, REGISTRY);
    assert(help.kind === "exit");
    assertStringIncludes(help.stdout, "--throwaway-port <port>");
    assertStringIncludes(help.stdout, "--no-throwaway");
    const parsed = parseCommandLine(
      ["--throwaway-port=4467", "--control-socket", ""],
      {},
      REGISTRY,
    );
    assert(parsed.kind === "run");
    const options = parsed.options as typeof parsed.options & {
      throwaway: boolean;
      throwawayPort: number;
    };
    assertEquals(
      [options.mode, options.throwaway, options.throwawayPort],
      ["auto", true, 4467],
    );
    const bad = parseCommandLine(["--throwaway-port", "0"], {}, REGISTRY);
    assert(bad.kind === "exit");
    assertStringIncludes(bad.stderr, "--throwaway-port");
    // A mode flag of its own: with it alone, it runs; the others do not.
    const explicit = parseCommandLine(["--throwaway"], {}, REGISTRY);
    assert(explicit.kind === "run");
    assertEquals(explicit.options.mode, "listeners");
    assertEquals(explicit.options.docker, false);
  });

  const parsed = parseCommandLine(
    ["--throwaway-port=4467", "--control-socket", ""],
    {},
    REGISTRY,
  );
  assert(parsed.kind === "run");
  const options = parsed.options;

  await t.step("planning detects it through the probe", async () => {
    const plans = await planSources(options, probe, REGISTRY);
    assertEquals(plans.find((plan) => plan.name === "throwaway"), {
      name: "throwaway",
      run: true,
      reason: "/throwaway-marker exists",
    });
    assertEquals(
      plans.filter((plan) => plan.run).map((plan) => plan.name),
      ["throwaway"],
    );
  });

  await t.step("routing follows its own route", () => {
    const binding = makeBinding("tcp", "127.0.0.1", 4467);
    const held = {
      key: "tcp/127.0.0.1:4467",
      binding,
      holders: [{ source: "throwaway", entry: { ownerId: "t1", binding } }],
    };
    assertEquals(routeBinding("auto", held, REGISTRY), ["log"]);
    assertEquals(routeBinding("privileged", held, REGISTRY), ["listeners"]);
  });

  await t.step(
    "a running agent supervises its worker and routes its binding",
    async () => {
      const agent = await startAgent(options, { probe, registry: REGISTRY });
      try {
        await waitFor(() =>
          agent.queue.status().some((row) =>
            row.key === "tcp/127.0.0.1:4467" && row.state === "logged"
          )
        );
        assertEquals(
          agent.tracker.bindings().map((tracked) => [
            tracked.key,
            tracked.holders.map((holder) => holder.source),
          ]),
          [["tcp/127.0.0.1:4467", ["throwaway"]]],
        );
        assertEquals(
          agent.supervisor.status().map((
            source,
          ) => [source.name, source.state]),
          [["throwaway", "connected"]],
        );
      } finally {
        assert((await agent.stop()).clean);
      }
    },
  );
});
