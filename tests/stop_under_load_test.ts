/**
 * Hardening, bounded: the agent stopped (as on SIGTERM) while two sources
 * churn, with its real host-switch, DNAT and listener forwarders all holding
 * bindings, removes everything it added: no host-switch mapping, no rule of
 * its nat chain, no listening socket. Runs in a network namespace the test
 * creates (tests/fixtures/stop_under_load.ts), with gvproxy v0.8.1 (the
 * version Rancher Desktop pins) as the host side in a namespace of its own.
 *
 * @module
 */
import { type Gvproxy, haveGvproxy, startGvproxy } from "./engines/gvproxy.ts";
import { assert, assertEquals } from "./assert.ts";
import { canCreateNamespaces, createTestNamespace } from "./netns.ts";
import { ignoreUnless } from "./requirements.ts";

const FIXTURE = new URL("./fixtures/stop_under_load.ts", import.meta.url);

Deno.test(
  "a stop under load removes every mapping, DNAT rule and listener the agent added",
  {
    ignore: ignoreUnless(
      "root, ip netns and the gvproxy v0.8.1 peer",
      await canCreateNamespaces() && await haveGvproxy("v0.8.1"),
    ),
  },
  async () => {
    const ns = await createTestNamespace("ga-stop");
    let gv: Gvproxy | undefined;
    try {
      gv = await startGvproxy("v0.8.1", ns);
      const child = ns.spawn(
        [Deno.execPath(), "run", "--allow-all", FIXTURE.pathname, gv.url],
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
      await gv?.stop();
      await ns.delete();
    }
  },
);
