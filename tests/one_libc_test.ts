/**
 * One process, one libc: the agent started the way a release starts it
 * (glibc's loader runs Deno with `--library-path` naming a folder of its own
 * libraries) maps that folder's libc and no other, after its FFI workers
 * have opened libc. Here the folder holds copies of this machine's own
 * libraries, so the test needs no download and no root; a copy is another
 * file (another inode), which is what makes a second libc visible if the
 * agent opened the system's by its usual path.
 *
 * @module
 */
import { mappedCLibraries } from "./process_maps.ts";
import { assert, assertEquals } from "./assert.ts";
import { collectText, privateMounts } from "./agent_process.ts";
import { AGENT_RUN_FLAGS } from "./agent_runtime.ts";
import { exec } from "./netns.ts";
import { waitFor } from "./wait.ts";

const ROOT = new URL("../", import.meta.url);

/** The libraries `ldd` says `binary` loads, and its loader: absolute paths. */
async function linkedLibraries(binary: string): Promise<string[]> {
  const { code, stdout, stderr } = await exec(["ldd", binary]);
  assertEquals(code, 0, stderr);
  return [...stdout.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((m) => m[1]!);
}

Deno.test("an agent started through a bundled loader opens its FFI libc from that folder and maps no other libc", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gaonelibc" });
  let agent: Deno.ChildProcess | undefined;
  try {
    const libraries = await linkedLibraries(Deno.execPath());
    const loader = libraries.find((path) => /\/ld-linux[^/]*$/.test(path));
    assert(loader, `no loader among ${libraries}`);
    for (const path of libraries) {
      await Deno.copyFile(
        path,
        `${dir}/${path.slice(path.lastIndexOf("/") + 1)}`,
      );
    }
    const bundledLoader = `${dir}/${loader.slice(loader.lastIndexOf("/") + 1)}`;
    await Deno.chmod(bundledLoader, 0o755);
    const socket = `${dir}/control.sock`;
    const [program, ...prefix] = [...privateMounts(), bundledLoader];
    agent = new Deno.Command(program!, {
      args: [
        ...prefix,
        "--library-path",
        dir,
        Deno.execPath(),
        "run",
        ...AGENT_RUN_FLAGS,
        "main.ts",
        "--dry-run",
        "--no-iptables",
        "--procnet",
        `--control-socket=${socket}`,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = collectText(agent.stderr);
    // The /proc/net worker opens libc through FFI before it reads a table.
    await waitFor(
      () => stderr.text().includes("procnet is connected"),
      30_000,
      () => ` for procnet in:\n${stderr.text()}`,
    );
    assertEquals(await mappedCLibraries(agent.pid), [`${dir}/libc.so.6`]);
    agent.kill("SIGTERM");
    assertEquals((await agent.status).code, 0, stderr.text());
    agent = undefined;
    await stderr.done;
  } finally {
    if (agent) {
      agent.kill("SIGKILL");
      await agent.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
