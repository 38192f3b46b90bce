/**
 * Hardening, bounded: the agent stopped (as on SIGTERM) while two sources
 * churn, with its real host-switch, DNAT and listener forwarders all holding
 * bindings, removes everything it added: no host-switch mapping, no rule of
 * its nat chain, no listening socket. Runs in a network namespace the test
 * creates (tests/fixtures/stop_under_load.ts).
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { canCreateNamespaces, createTestNamespace } from "./netns.ts";
import { ignoreUnless } from "./requirements.ts";

const FIXTURE = new URL("./fixtures/stop_under_load.ts", import.meta.url);

Deno.test(
  "a stop under load removes every mapping, DNAT rule and listener the agent added",
  {
    ignore: ignoreUnless("root and ip netns", await canCreateNamespaces()),
  },
  async () => {
    const ns = await createTestNamespace("ga-stop");
    try {
      const child = ns.spawn(
        [Deno.execPath(), "run", "--allow-all", FIXTURE.pathname],
        { stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } },
      );
      const output = await child.output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 0, stderr.slice(-3000));
      const result = JSON.parse(
        new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!,
      );
      assert(
        result.before.exposed > 0 && result.before.dnatRules > 0 &&
          result.before.listening > 0,
        `under load before the stop: ${JSON.stringify(result.before)}`,
      );
      assertEquals(result.after, { exposed: 0, dnatRules: 0, listening: 0 });
      assert(result.clean, "the stop report is clean");
      assertEquals(result.terminatedSources, [], "every worker stopped");
    } finally {
      await ns.delete();
    }
  },
);
