/**
 * End to end in privileged-service mode: a real dockerd in a network
 * namespace, the agent as a process (main.ts with the Go agent's flags) and
 * a TCP receiver in the privileged service's place. Checks the exact JSON
 * for `docker run -p` and `docker rm -f`, and that a receiver that was down
 * while containers came and went ends with exactly the live set.
 *
 * @module
 */
import { liveMappings } from "./port_mapping_replay.ts";
import { assertEquals } from "./assert.ts";
import {
  canRunDockerd,
  type Dockerd,
  HTTPD,
  startDockerd,
  TEST_IMAGE,
} from "./engines/dockerd.ts";
import { type LineReceiver, startLineReceiver } from "./line_receiver.ts";
import { spawnAgentProcess } from "./agent_process.ts";
import { exec } from "./netns.ts";
import { ignoreUnless } from "./requirements.ts";
import { waitFor } from "./wait.ts";
import { readControl } from "./service_flags.ts";
import type { PortRow } from "../control/control_view.ts";

/** The loopback interface's addresses as `ip` reports them (independent of the agent's code). */
async function loopbackCidrs(): Promise<string[]> {
  const output = await exec(["ip", "-j", "addr", "show", "dev", "lo"]);
  const [link] = JSON.parse(output.stdout) as {
    addr_info: { local: string; prefixlen: number }[];
  }[];
  return link!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
}

Deno.test(
  "privileged mode end to end: real dockerd, the agent process, a receiver in the privileged service's place",
  {
    ignore: ignoreUnless(
      "root, dockerd, busybox and ip netns",
      await canRunDockerd(),
    ),
  },
  async (t) => {
    const d: Dockerd = await startDockerd();
    let receiver: LineReceiver = startLineReceiver({ port: 0 });
    const port = (receiver.addr as Deno.NetAddr).port;
    const earlier: string[] = [];
    const all = () => [...earlier, ...receiver.messages];
    const connectAddrs = JSON.stringify(
      (await loopbackCidrs()).map((addr) => ({ network: "ip+net", addr })),
    );
    const expected = (
      remove: boolean,
      hostIp: string,
      hostPort: number,
      containerPort = 8080,
    ) =>
      `{"remove":${remove},"ports":{"${containerPort}/tcp":[{"HostIp":"${hostIp}","HostPort":"${hostPort}"}]},"connectAddrs":${connectAddrs}}\n`;
    const controlDir = await Deno.makeTempDir({ prefix: "gapriv" });
    const controlSocket = `${controlDir}/control.sock`;
    const udp = (remove: boolean, ip: string) =>
      `{"remove":${remove},"ports":{"53/udp":[{"HostIp":"${ip}","HostPort":"18202"}]},"connectAddrs":${connectAddrs}}\n`;
    const { child: agent, stderr } = spawnAgentProcess([
      `--control-socket=${controlSocket}`,
      "-privilegedService",
      "-docker",
      `--docker-socket=${d.socket}`,
      `-vtunnelAddr=127.0.0.1:${port}`,
      "--connect-interface=lo",
    ]);
    /** True when `messages` (sorted) are exactly `expected` (sorted). */
    const exactly = (messages: readonly string[], expected: string[]) =>
      JSON.stringify(messages.slice().sort()) ===
        JSON.stringify(expected.sort());
    const settle = (
      check: () => boolean | Promise<boolean>,
      what: string,
    ) =>
      waitFor(
        check,
        45_000,
        () =>
          ` for ${what}: received ${
            JSON.stringify(all())
          }\nagent log:\n${stderr.text()}`,
      );
    const docker = (...args: string[]) => d.docker(args);
    const run = (name: string, publish: string) =>
      docker("run", "-d", "--name", name, "-p", publish, TEST_IMAGE, ...HTTPD);
    try {
      await t.step(
        "docker run -p sends the exact add for each binding",
        async () => {
          await run("one", "18200:8080");
          const adds = [
            expected(false, "0.0.0.0", 18200),
            expected(false, "::", 18200),
          ].sort();
          await settle(() => exactly(receiver.messages, adds), "two adds");
          assertEquals(receiver.messages.slice().sort(), adds);
        },
      );

      await t.step(
        "127.0.0.1 and udp keep their host IP and protocol",
        async () => {
          await docker(
            "run",
            "-d",
            "--name",
            "two",
            "-p",
            "127.0.0.1:18201:8080",
            "-p",
            "18202:53/udp",
            TEST_IMAGE,
            ...HTTPD,
          );
          const adds = [
            expected(false, "127.0.0.1", 18201),
            udp(false, "0.0.0.0"),
            udp(false, "::"),
          ].sort();
          await settle(
            () => exactly(receiver.messages.slice(2), adds),
            "three more adds",
          );
          assertEquals(receiver.messages.slice(2).sort(), adds);
        },
      );

      await t.step("docker rm -f sends the exact removes", async () => {
        await docker("rm", "-f", "one", "two");
        const removes = [
          expected(true, "0.0.0.0", 18200),
          expected(true, "::", 18200),
          expected(true, "127.0.0.1", 18201),
          udp(true, "0.0.0.0"),
          udp(true, "::"),
        ].sort();
        await settle(
          () => exactly(receiver.messages.slice(5), removes),
          "five removes",
        );
        assertEquals(receiver.messages.slice(5).sort(), removes);
        assertEquals(liveMappings(receiver.messages), []);
      });

      await t.step(
        "a receiver down while containers start and stop ends with exactly the live set",
        async () => {
          await run("kept", "18210:8080");
          await settle(() => liveMappings(all()).length === 2, "kept added");
          earlier.push(...receiver.messages);
          await receiver.close();
          await run("gone", "18211:8080");
          await run("late", "18212:8080");
          await docker("rm", "-f", "gone", "kept");
          await run("last", "18213:8080");
          // The agent has tried and failed to send late's and last's adds
          // more than once (the control API's attempts) before the
          // receiver comes back.
          let rows: PortRow[] = [];
          await settle(
            async () => {
              rows = (await readControl(controlSocket, "/v1/ports") as {
                ports: PortRow[];
              }).ports;
              return ["tcp/0.0.0.0:18212", "tcp/0.0.0.0:18213"].every((key) =>
                rows.find((row) => row.key === key)?.deliveries.some((
                  delivery,
                ) => delivery.state === "retrying" && delivery.attempts >= 2)
              );
            },
            `failed attempts for late and last: ${JSON.stringify(rows)}`,
          );
          receiver = startLineReceiver({ port });
          const live = [
            "8080/tcp 0.0.0.0 18212",
            "8080/tcp 0.0.0.0 18213",
            "8080/tcp :: 18212",
            "8080/tcp :: 18213",
          ];
          await settle(
            () => JSON.stringify(liveMappings(all())) === JSON.stringify(live),
            "the live set after the receiver came back",
          );
          // Nothing about "gone" needed to reach the host: its add and
          // remove cancelled while the receiver was down.
          assertEquals(
            receiver.messages.filter((m) => m.includes('"18211"')),
            [],
          );
        },
      );

      await t.step("SIGTERM removes everything the agent added", async () => {
        agent.kill("SIGTERM");
        assertEquals((await agent.status).code, 0);
        assertEquals(liveMappings(all()), []);
      });
    } finally {
      try {
        agent.kill("SIGTERM");
      } catch { /* already exited */ }
      await agent.status;
      await stderr.done;
      await receiver.close();
      await d.stop();
      await Deno.remove(controlDir, { recursive: true });
    }
  },
);
