/**
 * The bundled build (`deno task bundle`: main.js and sources/<name>/worker.js
 * in one folder) runs: it is the JavaScript a guest image can carry without
 * the source tree, and the closest thing to the `deno compile` binary that
 * can be built here (compile needs denort, which cannot be downloaded).
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { collectText, privateMounts } from "./agent_process.ts";
import { waitFor } from "./wait.ts";
import { SOURCE_NAMES } from "../sources/registry.ts";
import { bundleArgs } from "../build/tasks.ts";
import { BUNDLE_RUN_FLAGS } from "./agent_runtime.ts";

const ROOT = new URL("../", import.meta.url);
const BUNDLE_RUN = ["run", ...BUNDLE_RUN_FLAGS];

Deno.test("the bundle task names every worker entry, and the bundled agent runs its workers", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const task = config.tasks.bundle as string;
  assertEquals(task.endsWith("build/tasks.ts bundle"), true, task);
  const entries = SOURCE_NAMES.map((name) => `sources/${name}/worker.ts`)
    .sort();
  const named = bundleArgs().filter((arg) => arg.endsWith("/worker.ts"))
    .sort();
  assertEquals(named, entries);
  // docs/install.md gives the command this test runs.
  assertStringIncludes(
    await Deno.readTextFile(new URL("docs/install.md", ROOT)),
    `deno ${BUNDLE_RUN.join(" ")} dist/bundle/main.js`,
  );

  const dir = await Deno.makeTempDir({ prefix: "gabundle" });
  let agent: Deno.ChildProcess | undefined;
  try {
    // The task itself: build/tasks.ts runs deno bundle.
    const args = [...task.split(/\s+/).slice(1), dir];
    const bundled = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdin: "null",
    }).output();
    assertEquals(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
    for (const name of SOURCE_NAMES) {
      await Deno.stat(`${dir}/sources/${name}/worker.js`);
    }

    // Run from a folder with neither deno.json nor the source tree: the
    // unstable features deno.json turns on must be given as flags.
    const socket = `${dir}/control/agent.sock`;
    const [program, ...prefix] = [...privateMounts(), Deno.execPath()];
    agent = new Deno.Command(program!, {
      args: [
        ...prefix,
        ...BUNDLE_RUN,
        `${dir}/main.js`,
        "--dry-run",
        "--no-iptables",
        "--procnet",
        "--procnet-interval=100",
        `--control-socket=${socket}`,
      ],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = collectText(agent.stderr);
    const stdout = collectText(agent.stdout);
    await waitFor(
      () => stderr.text().includes("procnet is connected"),
      20_000,
      () => ` for procnet in:\n${stderr.text()}`,
    );
    const status = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `${dir}/main.js`,
        "status",
        "--json",
        `--control-socket=${socket}`,
      ],
      cwd: dir,
      stdin: "null",
    }).output();
    assertEquals(status.code, 0, new TextDecoder().decode(status.stderr));
    const report = JSON.parse(new TextDecoder().decode(status.stdout));
    assert(
      report.sources.some((s: { name: string; state: string }) =>
        s.name === "procnet" && s.state === "connected"
      ),
      JSON.stringify(report.sources),
    );
    agent.kill("SIGTERM");
    assertEquals((await agent.status).code, 0, stderr.text());
    agent = undefined;
    await Promise.all([stderr.done, stdout.done]);
    assertStringIncludes(stderr.text(), "received SIGTERM");
  } finally {
    if (agent) {
      try {
        agent.kill("SIGKILL");
      } catch { /* it ended by itself */ }
      await agent.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
