/**
 * The control API and the `ports` and `status` commands against a running
 * agent (real unix sockets, the real CLI process), an agent that is not
 * running, and sockets that must not be trusted.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { TEST_OPTIONS } from "./test_options.ts";
import { runControlCommand } from "../cli/control_commands.ts";
import { runCommand } from "../support/run_command.ts";
import { AGENT_RUN_FLAGS } from "./agent_runtime.ts";
import { startAgent } from "../agent/run_agent.ts";
import type { AgentStatus, PortRow } from "../control/control_view.ts";
import { FakeClock } from "../support/clock.ts";
import { readControl } from "./service_flags.ts";
import { waitFor } from "./wait.ts";
import { fixtureSource } from "./fixtures/fixture_source.ts";
import type { Forwarder } from "../forwarding/forwarder.ts";
import { unixAddress } from "../forwarding/privileged_service/socket_sender.ts";
import { AF_UNIX, findLibcPath, Libc } from "../support/libc.ts";
import {
  bind,
  streamSocket,
} from "../forwarding/privileged_service/stream_socket.ts";

const ROOT = new URL("../", import.meta.url);

/** A forwarder whose host side is down: every add fails. */
class DownForwarder implements Forwarder {
  readonly name = "down";
  add(): Promise<void> {
    return Promise.reject(new Error("connection refused by the host side"));
  }
  remove(): Promise<void> {
    return Promise.resolve();
  }
}

const MAIN = new URL("main.ts", ROOT).pathname;

/** Runs the real CLI process. */
function cli(args: string[]) {
  return runCommand(Deno.execPath(), [
    "run",
    ...AGENT_RUN_FLAGS,
    MAIN,
    ...args,
  ]);
}

/** The steady fixture source holding one binding on `port`. */
function steady(port: number) {
  return [fixtureSource("steady", { behaviour: "steady", port })];
}

Deno.test("ports says 'logged only' for a dry run, never 'forwarded'", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gactl" });
  const socket = `${dir}/control.sock`;
  const agent = await startAgent({
    ...TEST_OPTIONS,
    mode: "privileged",
    privilegedService: true,
    dryRun: true,
    controlSocket: socket,
  }, { registry: steady(4322) });
  try {
    let row = "";
    await waitFor(
      async () => {
        const output = await runControlCommand([
          "ports",
          "--control-socket",
          socket,
        ]);
        row = output.stdout.trim().split("\n")[1] ?? "";
        return row.includes("tcp    0.0.0.0:4322") &&
          row.includes("privileged-service: logged only");
      },
      5_000,
      () => ` for port 4322 in ports: have ${JSON.stringify(row)}`,
      { intervalMs: 50 },
    );
    assertStringIncludes(row, "tcp    0.0.0.0:4322");
    assertStringIncludes(row, "privileged-service: logged only");
    assert(!row.includes("forwarded"), row);
    const status = await runControlCommand([
      "status",
      "--control-socket",
      socket,
    ]);
    assert(
      /privileged-service +healthy +0 \(\d+ logged only\)/.test(status.stdout),
      status.stdout,
    );
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ports and status against a running agent, through its control socket", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "gactl" });
  const socket = `${dir}/run/control.sock`;
  const recording = new RecordingForwarder();
  const agent = await startAgent({
    ...TEST_OPTIONS,
    controlSocket: socket,
    shutdownTimeoutMs: 500,
  }, {
    ...injected([recording, new DownForwarder()]),
    registry: steady(4321),
  });
  try {
    await recording.until(() => recording.keys.size === 1, "the binding");
    await t.step("the socket is 0600 in a 0700 folder", async () => {
      assertEquals((await Deno.stat(socket)).mode! & 0o777, 0o600);
      assertEquals((await Deno.stat(`${dir}/run`)).mode! & 0o777, 0o700);
    });

    await t.step(
      "ports: a table naming owner, forwarders and the failure",
      async () => {
        const output = await runControlCommand([
          "ports",
          "--control-socket",
          socket,
        ]);
        assertEquals(output.code, 0, output.stderr);
        const [header, row] = output.stdout.trim().split("\n");
        assertStringIncludes(header!, "PROTO  ADDRESS");
        assertStringIncludes(row!, "tcp    0.0.0.0:4321");
        assertStringIncludes(row!, "steady:c1");
        assertStringIncludes(row!, "recording: forwarded");
        assertStringIncludes(row!, "down: retrying (");
        assertStringIncludes(row!, "connection refused by the host side");
      },
    );

    await t.step("ports --json", async () => {
      const output = await runControlCommand([
        "ports",
        "--json",
        `--control-socket=${socket}`,
      ]);
      const rows = JSON.parse(output.stdout);
      assertEquals(rows.length, 1);
      assertEquals(rows[0].key, "tcp/0.0.0.0:4321");
      assertEquals(rows[0].owners, [{
        source: "steady",
        name: "c1",
        id: "c1",
      }]);
      assertEquals(
        rows[0].deliveries.map((d: { forwarder: string; state: string }) =>
          `${d.forwarder}:${d.state}`
        ).sort(),
        ["down:retrying", "recording:forwarded"],
      );
      assert(
        Math.abs(rows[0].since - Date.now()) < 60_000,
        "since is wall-clock time",
      );
    });

    await t.step(
      "status, text and JSON, from the real CLI process",
      async () => {
        const text = await cli(["status", "--control-socket", socket]);
        assertEquals(text.code, 0, text.stderr);
        assertStringIncludes(text.stdout, `guest-agent `);
        assertStringIncludes(text.stdout, `auto mode, pid ${Deno.pid}`);
        assertStringIncludes(text.stdout, "steady");
        assertStringIncludes(text.stdout, "down       retrying");
        const json = JSON.parse(
          (await cli(["status", "--json", "--control-socket", socket])).stdout,
        );
        assertEquals(json.bindings, 1);
        assertEquals(json.sources[0].name, "steady");
        assertEquals(json.sources[0].bindings, 1);
        assertEquals(
          json.forwarders.map((
            f: { name: string; healthy: boolean },
          ) => [f.name, f.healthy]),
          [["recording", true], ["down", false]],
        );
        const ports = await cli(["ports", "--control-socket", socket]);
        assertStringIncludes(ports.stdout, "0.0.0.0:4321");
      },
    );

    await t.step("a second agent does not take a live socket", async () => {
      const second = await startAgent({
        ...TEST_OPTIONS,
        controlSocket: socket,
      }, {
        ...injected([new RecordingForwarder()]),
        registry: steady(4322),
      });
      await second.stop();
      const output = await runControlCommand([
        "ports",
        "--json",
        "--control-socket",
        socket,
      ]);
      assertEquals(
        JSON.parse(output.stdout)[0].key,
        "tcp/0.0.0.0:4321",
        "still the first agent",
      );
    });

    await t.step("a socket other users could use is refused", async () => {
      await Deno.chmod(socket, 0o666);
      const output = await runControlCommand([
        "status",
        "--control-socket",
        socket,
      ]);
      assertEquals(output.code, 1);
      assertStringIncludes(output.stderr, "Cannot trust the control socket");
      assertStringIncludes(output.stderr, "mode 0666 lets other users in");
      await Deno.chmod(socket, 0o600);
    });
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
  // The agent removed its socket when it stopped.
});

Deno.test("ports and status say clearly that no agent is running", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "gactl" });
  try {
    await t.step("no socket", async () => {
      const output = await cli([
        "ports",
        "--control-socket",
        `${dir}/none.sock`,
      ]);
      assertEquals(output.code, 1);
      assertEquals(output.stdout, "");
      assertStringIncludes(
        output.stderr,
        "Cannot reach the agent: no control socket at",
      );
    });
    await t.step("a stale socket nobody listens on", async () => {
      const path = `${dir}/stale.sock`;
      // A bound socket whose process is gone (Deno's listener would remove
      // its file on close; a bare bind through libc leaves it).
      const libc = new Libc(findLibcPath()!);
      const fd = streamSocket(libc, AF_UNIX);
      bind(libc, fd, unixAddress(path), path);
      libc.closeFd(fd);
      libc.close();
      await Deno.chmod(path, 0o600);
      const output = await runControlCommand([
        "status",
        "--control-socket",
        path,
      ]);
      assertEquals(output.code, 1);
      assertStringIncludes(output.stderr, `Cannot reach the agent at ${path}`);
    });
    await t.step("not a socket", async () => {
      await Deno.writeTextFile(`${dir}/file`, "x");
      const output = await runControlCommand([
        "status",
        "--control-socket",
        `${dir}/file`,
      ]);
      assertEquals([output.code, output.stderr.includes("is not a socket")], [
        1,
        true,
      ]);
    });
    await t.step("usage errors exit 2", async () => {
      const output = await runControlCommand(["ports", "--bogus"]);
      assertEquals(output.code, 2);
      assertStringIncludes(
        output.stderr,
        "Cannot read flag --bogus: no such flag",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the agent runs without a control API when its socket cannot be made", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gactl" });
  const occupied = `${dir}/occupied`;
  await Deno.writeTextFile(occupied, "not a socket");
  const agent = await startAgent({ ...TEST_OPTIONS, controlSocket: occupied }, {
    ...injected([new RecordingForwarder()]),
    registry: steady(4323),
  });
  await agent.stop();
  assertEquals(await Deno.readTextFile(occupied), "not a socket", "left alone");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ports and status read the agent's one clock: a FakeClock's wall time, not Date.now()", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gactl" });
  const socket = `${dir}/control.sock`;
  const wallEpoch = Date.UTC(2030, 5, 1);
  const clock = new FakeClock(wallEpoch);
  await clock.advance(7_000);
  const agent = await startAgent({
    ...TEST_OPTIONS,
    mode: "listeners",
    kubernetes: false,
    controlSocket: socket,
  }, {
    registry: steady(4329),
    ...injected([new RecordingForwarder()]),
    clock,
  });
  try {
    let rows: PortRow[] = [];
    await waitFor(
      async () => {
        rows = (await readControl(socket, "/v1/ports") as { ports: PortRow[] })
          .ports;
        return rows.length === 1;
      },
      5_000,
      () => ` for one row in ports: have ${JSON.stringify(rows)}`,
      { intervalMs: 50 },
    );
    assertEquals(rows.map((row) => [row.key, row.since]), [
      ["tcp/0.0.0.0:4329", wallEpoch + 7_000],
    ]);
    await clock.advance(3_000);
    const status = await readControl(socket, "/v1/status") as AgentStatus;
    assertEquals(status.uptimeSeconds, 3);
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
