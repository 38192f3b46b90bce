/**
 * The iptables source end to end against real iptables (nf_tables backend,
 * and the legacy backend by polling) in a network namespace the test
 * creates: the agent runs inside it (tests/fixtures/agent_in_netns.ts) with
 * the real worker and its permissions.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "./assert.ts";
import {
  canCreateNamespaces,
  createTestNamespace,
  exec,
  restoreNat,
  type TestNamespace,
} from "./netns.ts";
import { startNetnsAgent } from "./netns_agent.ts";
import { onlySources } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";

const QUIET = onlySources("iptables");
const CNI_CHAIN = "CNI-DN-0123456789abcdef01234";

async function have(binary: string): Promise<boolean> {
  return (await exec(["sh", "-c", `command -v ${binary}`])).code === 0;
}

/** Runs `<binary> -t nat <rule split on spaces> <extra…>` in `ns`. */
function natRunner(ns: TestNamespace, binary: string) {
  return async (rule: string, ...extra: string[]) => {
    const args = [binary, "-t", "nat", ...rule.split(" "), ...extra];
    const result = await ns.run(args);
    if (result.code !== 0) {
      throw new Error(`${args.join(" ")}: ${result.stderr.trim()}`);
    }
  };
}

/** How soon a rule change must be seen where nf_tables notifies (the poll and the net are at 600 s). */
const NOTIFIED_WITHIN_MS = 10_000;

Deno.test(
  `iptables source against real nf_tables rules: each change seen within ${NOTIFIED_WITHIN_MS} ms through change notifications (poll and net at 600 s)`,
  {
    ignore: ignoreUnless(
      "root, ip netns, iptables and ip6tables",
      await canCreateNamespaces() && await have("iptables-save") &&
        await have("ip6tables"),
    ),
  },
  async (t) => {
    const ns = await createTestNamespace("ga-ipt");
    const ipt = natRunner(ns, "iptables");
    const ip6t = natRunner(ns, "ip6tables");
    // Poll and safety net at ten minutes, each wait at most
    // NOTIFIED_WITHIN_MS: whatever the agent sees, it saw through the
    // change notifications.
    const started = await startNetnsAgent(ns, {
      ...QUIET,
      iptablesIntervalMs: 600_000,
      iptablesResyncMs: 600_000,
    });
    const agent = {
      ...started,
      until: (check: () => boolean, what: string) =>
        started.until(check, what, NOTIFIED_WITHIN_MS),
    };
    try {
      await t.step(
        "DOCKER rules: tcp with -d, udp without, multiport",
        async () => {
          assertStringIncludes(
            agent.log(),
            "rescanning on nf_tables change notifications",
          );
          await ipt("-N DOCKER");
          await ipt(
            "-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 18301 -j DNAT --to-destination 172.17.0.2:8080",
          );
          await ipt(
            "-A DOCKER ! -i docker0 -p udp -m udp --dport 18302 -j DNAT --to-destination 172.17.0.2:53",
          );
          await ipt(
            "-A DOCKER -p tcp -m multiport --dports 18303,18310:18311 -j DNAT --to-destination 172.17.0.3",
          );
          await ipt("-A DOCKER -i docker0 -j RETURN");
          await agent.until(() => agent.keys.size === 5, "5 DOCKER bindings");
          assertEquals([...agent.keys].sort(), [
            "tcp/0.0.0.0:18303",
            "tcp/0.0.0.0:18310",
            "tcp/0.0.0.0:18311",
            "tcp/127.0.0.1:18301",
            "udp/0.0.0.0:18302",
          ]);
        },
      );

      await t.step("a CNI portmap chain", async () => {
        await ipt("-N CNI-HOSTPORT-DNAT");
        await ipt(`-N ${CNI_CHAIN}`);
        await ipt(
          `-A ${CNI_CHAIN} -s 10.88.0.0/16 -p tcp -m tcp --dport 18320 -j MARK --set-xmark 0x2000/0x2000`,
        );
        await ipt(
          `-A ${CNI_CHAIN} -p tcp -m tcp --dport 18320 -j DNAT --to-destination 10.88.0.2:8080`,
        );
        await ipt(
          `-A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports 18320 -j ${CNI_CHAIN} -m comment --comment`,
          'dnat name: "bridge" id: "web"',
        );
        // The DNAT rule is seen before the commented jump names it (each
        // iptables call is its own change): wait for the named entry.
        const name = () => {
          const snapshot = agent.lines.findLast((line) =>
            line.message?.type === "snapshot"
          )?.message as unknown as {
            entries: { binding: { hostPort: number }; name: string }[];
          } | undefined;
          return snapshot?.entries.find((e) => e.binding.hostPort === 18320)
            ?.name;
        };
        await agent.until(
          () => agent.keys.has("tcp/0.0.0.0:18320") && name() === "bridge/web",
          "the CNI binding named bridge/web",
        );
        assertEquals(name(), "bridge/web");
      });

      await t.step("ip6tables rules", async () => {
        await ip6t("-N DOCKER");
        await ip6t(
          "-A DOCKER -p tcp -m tcp --dport 18330 -j DNAT --to-destination [fd00::2]:80",
        );
        await agent.until(
          () => agent.keys.has("tcp/[::]:18330"),
          "the IPv6 binding",
        );
      });

      await t.step("deleting rules removes their ports", async () => {
        await ipt(
          "-D DOCKER ! -i docker0 -p udp -m udp --dport 18302 -j DNAT --to-destination 172.17.0.2:53",
        );
        await agent.until(
          () => !agent.keys.has("udp/0.0.0.0:18302"),
          "the udp rule gone",
        );
        await ipt("-F DOCKER");
        await ipt("-F CNI-HOSTPORT-DNAT");
        await ipt(`-F ${CNI_CHAIN}`);
        await ip6t("-F DOCKER");
        await agent.until(() => agent.keys.size === 0, "nothing left");
      });

      await t.step("100 rules in one restore, then a flush", async () => {
        const rules = Array.from(
          { length: 100 },
          (_, i) =>
            `-A DOCKER -p tcp -m tcp --dport ${
              19000 + i
            } -j DNAT --to-destination 172.17.1.${i}:80`,
        );
        await restoreNat(ns, ["*nat", ...rules, "COMMIT", ""].join("\n"));
        await agent.until(() => agent.keys.size === 100, "100 bindings");
        await ipt("-F DOCKER");
        await agent.until(() => agent.keys.size === 0, "all gone");
      });
    } finally {
      const code = await agent.stop();
      await ns.delete();
      assertEquals(code, 0, "the agent stopped cleanly");
    }
  },
);

Deno.test("iptables source against the legacy backend: polled", {
  ignore: ignoreUnless(
    "root, ip netns and iptables-legacy",
    await canCreateNamespaces() && await have("iptables-legacy-save"),
  ),
}, async () => {
  const ns = await createTestNamespace("ga-iptl");
  // A PATH whose iptables-save is the legacy one, as on a legacy system.
  const bin = await Deno.makeTempDir({ prefix: "gaipt" });
  const legacy = (await exec(["sh", "-c", "command -v iptables-legacy-save"]))
    .stdout.trim();
  await Deno.symlink(legacy, `${bin}/iptables-save`);
  const ipt = natRunner(ns, "iptables-legacy");
  let agent: Awaited<ReturnType<typeof startNetnsAgent>> | undefined;
  try {
    agent = await startNetnsAgent(ns, {
      ...QUIET,
      iptablesIntervalMs: 200,
      iptablesResyncMs: 600_000,
    }, { PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin"}` });
    const running = agent;
    assertStringIncludes(running.log(), "iptables backend is not nf_tables");
    await ipt("-N DOCKER");
    await ipt(
      "-A DOCKER -p tcp -m tcp --dport 18340 -j DNAT --to-destination 172.17.0.2:80",
    );
    await running.until(
      () => running.keys.has("tcp/0.0.0.0:18340"),
      "the legacy rule",
    );
    await ipt("-F DOCKER");
    await running.until(() => running.keys.size === 0, "the legacy rule gone");
  } finally {
    const code = await agent?.stop();
    await ns.delete();
    await Deno.remove(bin, { recursive: true });
    if (code !== undefined) assertEquals(code, 0);
  }
});
