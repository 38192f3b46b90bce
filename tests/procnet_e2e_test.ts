/**
 * The /proc/net source end to end against real sockets in a network
 * namespace the test creates: the agent runs inside it
 * (tests/fixtures/agent_in_netns.ts), a helper process holds sockets there
 * (tests/fixtures/socket_holder.ts).
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { canCreateNamespaces, createTestNamespace } from "./netns.ts";
import { startSocketHolder } from "./netns_sockets.ts";
import { startNetnsAgent } from "./netns_agent.ts";
import { onlySources } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";

Deno.test("procnet source against real sockets in a network namespace", {
  ignore: ignoreUnless("root and ip netns", await canCreateNamespaces()),
}, async (t) => {
  const ns = await createTestNamespace("ga-procnet");
  const holder = startSocketHolder(ns);
  let agent: Awaited<ReturnType<typeof startNetnsAgent>> | undefined;
  try {
    agent = await startNetnsAgent(ns, {
      ...onlySources("procnet"),
      procnetIntervalMs: 300,
      ignorePorts: [18409],
    });
    const running = agent;
    await t.step(
      "TCP listeners on 0.0.0.0, 127.0.0.1 and ::, and a UDP socket",
      async () => {
        await holder.command("listen tcp 0.0.0.0 18401");
        await holder.command("listen tcp 127.0.0.1 18402");
        await holder.command("listen tcp :: 18403");
        await holder.command("listen udp 0.0.0.0 18404");
        await holder.command("listen tcp 0.0.0.0 18409"); // ignored by flag
        await running.until(() => running.keys.size === 4, "4 sockets");
        assertEquals([...running.keys].sort(), [
          "tcp/0.0.0.0:18401",
          "tcp/127.0.0.1:18402",
          "tcp/[::]:18403",
          "udp/0.0.0.0:18404",
        ]);
      },
    );

    await t.step(
      "a socket that lives shorter than one scan is never published",
      async () => {
        await holder.command("listen tcp 0.0.0.0 18405");
        await new Promise((resolve) => setTimeout(resolve, 50));
        await holder.command("close tcp 0.0.0.0 18405");
        // A later socket takes two scans to appear: by then any scan that
        // could have seen 18405 twice has run.
        await holder.command("listen tcp 0.0.0.0 18406");
        await running.until(
          () => running.keys.has("tcp/0.0.0.0:18406"),
          "18406",
        );
        assertEquals(
          running.lines.filter((line) => line.add === "tcp/0.0.0.0:18405"),
          [],
        );
      },
    );

    await t.step("a closed socket is removed at the next scan", async () => {
      await holder.command("close tcp 127.0.0.1 18402");
      await holder.command("close udp 0.0.0.0 18404");
      await running.until(
        () =>
          !running.keys.has("tcp/127.0.0.1:18402") &&
          !running.keys.has("udp/0.0.0.0:18404"),
        "the closed sockets gone",
      );
    });
  } finally {
    const code = await agent?.stop();
    await holder.stop();
    await ns.delete();
    if (code !== undefined) assertEquals(code, 0, "the agent stopped cleanly");
  }
});
