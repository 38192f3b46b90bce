/**
 * End to end: the agent as users start it, `deno task start`, in auto mode.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "./assert.ts";
import { waitFor } from "./wait.ts";
import { startLineReceiver } from "./line_receiver.ts";
import {
  collectText,
  privateMounts,
  spawnAgentProcess,
} from "./agent_process.ts";
import { AGENT_RUN_FLAGS } from "./agent_runtime.ts";
import { SOURCES } from "../sources/registry.ts";

const ROOT = new URL("../", import.meta.url);

function waitForText(read: () => string, part: string): Promise<void> {
  return waitFor(
    () => read().includes(part),
    20_000,
    () =>
      ` for ${JSON.stringify(part)} in:
${read()}`,
  );
}

Deno.test("deno task start in auto mode logs its sources, forwards a listener, exits 0 on SIGTERM", async () => {
  const [program, ...prefix] = [...privateMounts(), Deno.execPath()];
  const child = new Deno.Command(program!, {
    args: [...prefix, "task", "--quiet", "start", "--procnet-interval=100"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = collectText(child.stderr);
  const stdout = collectText(child.stdout);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const key = `tcp/127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  try {
    await waitForText(stderr.text, "procnet is connected");
    for (const { name: source } of SOURCES) {
      assertStringIncludes(stderr.text(), `source ${source}: `);
    }
    assertStringIncludes(stderr.text(), "source procnet: enabled");
    await waitForText(stderr.text, `${key} appeared (held by procnet:${key})`);
    listener.close();
    await waitForText(stderr.text, `${key} gone`);
  } finally {
    try {
      listener.close();
    } catch { /* closed above */ }
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await Promise.all([stderr.done, stdout.done]);
  assertEquals(status.code, 0, stderr.text());
  assertStringIncludes(stderr.text(), "received SIGTERM");
  assertStringIncludes(
    stderr.text(),
    "stopped; every forwarded binding was removed",
  );
});

Deno.test("the agent exits 2 with one line for a bad flag, and prints its version", async () => {
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...AGENT_RUN_FLAGS, "main.ts", ...args],
      cwd: ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
  const bad = await run(["-k8sServiceListenerAddr=10.0.0.1"]);
  assertEquals(bad.code, 2);
  const line = new TextDecoder().decode(bad.stderr);
  assertEquals(line.trim().split("\n").length, 1, line);
  assertStringIncludes(line, "accepted values are 0.0.0.0 and 127.0.0.1");
  const version = await run(["--version"]);
  assertEquals(version.code, 0);
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  assertEquals(new TextDecoder().decode(version.stdout).trim(), config.version);
});

Deno.test("privileged mode sends the Go agent's JSON for a real listener to the vtunnel peer", async () => {
  const receiver = startLineReceiver({ port: 0 });
  const vtunnel = `127.0.0.1:${(receiver.addr as Deno.NetAddr).port}`;
  const { child, stderr } = spawnAgentProcess([
    "-privilegedService",
    "-iptables=false",
    "--procnet",
    "--procnet-interval=50",
    `-vtunnelAddr=${vtunnel}`,
    "--connect-interface=lo",
  ]);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const expected = (remove: boolean) =>
    `{"remove":${remove},"ports":{"${port}/tcp":[{"HostIp":"127.0.0.1","HostPort":"${port}"}]},` +
    `"connectAddrs":[{"network":"ip+net","addr":"127.0.0.1/8"},{"network":"ip+net","addr":"::1/128"}]}\n`;
  try {
    await waitFor(
      () => receiver.messages.includes(expected(false)),
      20_000,
      () => `: got ${JSON.stringify(receiver.messages)}\n${stderr.text()}`,
    );
    listener.close();
    await waitFor(
      () => receiver.messages.includes(expected(true)),
      20_000,
      stderr.text,
    );
  } finally {
    try {
      listener.close();
    } catch { /* closed above */ }
    child.kill("SIGTERM");
    await child.status;
    await stderr.done;
    await receiver.close();
  }
  // Every add the agent sent was matched by a remove by the time it exited.
  const adds = receiver.messages.filter((m) => m.startsWith('{"remove":false'));
  const removes = receiver.messages.filter((m) =>
    m.startsWith('{"remove":true')
  );
  assertEquals(removes.length, adds.length, receiver.messages.join(""));
});
