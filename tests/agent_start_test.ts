/**
 * End to end: the agent as users start it, `deno task start`, in auto mode.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { waitFor } from "./wait.ts";

const ROOT = new URL("../", import.meta.url);

/** Collects a process's stderr as text while it runs. */
function collect(
  stream: ReadableStream<Uint8Array>,
): { text: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = stream.pipeTo(
    new WritableStream({
      write: (chunk) => void (text += decoder.decode(chunk)),
    }),
  );
  return { text: () => text, done };
}

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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "start", "--procnet-interval=100"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const key = `tcp/127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  try {
    await waitForText(stderr.text, "procnet is connected");
    for (const source of ["docker", "containerd", "iptables", "kubernetes"]) {
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
      args: ["run", "--allow-all", "main.ts", ...args],
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

Deno.test("a mode whose forwarder is not built yet refuses to start, naming --dry-run", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", "-privilegedService", "-docker"],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  assertEquals(output.code, 2);
  const text = new TextDecoder().decode(output.stderr);
  assertStringIncludes(text, "--dry-run");
  assert(!text.includes("Stack"), text);
});
