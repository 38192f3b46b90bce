/**
 * The release's figures: each architecture's archive and what it unpacks
 * to, beside the Go agent v0.3.19's binary (the Go column); then the
 * released program in an Alpine-like amd64 root (busybox, musl, the bundled
 * glibc) beside `deno task start`'s command on this machine, in the same run,
 * alternating: start → the first source connected, and private memory once
 * connected. Both run with the same flags (`--dry-run --no-iptables
 * --procnet`), each in a network namespace of its own, and each is started
 * once unmeasured first, so that both read a warm V8 code cache.
 *
 * Run: `deno run --allow-all bench/release_figures.ts [runs]` (root)
 *
 * @module
 */
import { buildRelease } from "../build/release.ts";
import { LAUNCHER_PATH } from "../build/release_layout.ts";
import {
  buildAlpineLikeRoot,
  spawnInRoot,
  unpackRelease,
} from "../tests/alpine_root.ts";
import { spawnAgentProcess } from "../tests/agent_process.ts";
import { createTestNamespace } from "../tests/netns.ts";
import { peerPath } from "../tests/engines/peers.ts";
import { waitFor } from "../tests/wait.ts";
import {
  cleanUpOnce,
  percentile,
  print,
  recordFigure,
  residentMemory,
} from "./latency_support.ts";

const RUNS = Number(Deno.args[0] ?? 5);
const ROOT = new URL("../", import.meta.url).pathname;
const FLAGS = ["--dry-run", "--no-iptables", "--procnet"];
const CONNECTED = "procnet is connected";
const MIB = 1024 * 1024;

/** One start: ms to the first source connected, private MiB then. */
interface Start {
  readonly connectedMs: number;
  readonly privateMiB: number;
}

/** Starts `spawn()`'s agent, times it to CONNECTED, reads its memory, stops it. */
async function measureStart(
  spawn: () => { child: Deno.ChildProcess; text: () => string },
): Promise<Start> {
  const started = performance.now();
  const { child, text } = spawn();
  let start: Start;
  try {
    await waitFor(
      () => text().includes(CONNECTED),
      30_000,
      () => `:\n${text()}`,
      {
        intervalMs: 1,
      },
    );
    const connectedMs = performance.now() - started;
    start = { connectedMs, privateMiB: residentMemory(child.pid).private };
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
  child.kill("SIGTERM");
  const { code } = await child.status;
  if (code !== 0) {
    throw new Error(`Cannot stop the agent cleanly: exit ${code}\n${text()}`);
  }
  return start;
}

const dir = await Deno.makeTempDir({ prefix: "garelfig" });
const ns = await createTestNamespace("ga-relfig");
const cleanUp = cleanUpOnce("release_figures", async () => {
  await ns.delete();
  await Deno.remove(dir, { recursive: true });
});

try {
  const goBytes =
    (await Deno.stat(peerPath("rancher-desktop-guestagent-v0.3.19"))).size;
  const archives = await buildRelease({
    outDir: `${dir}/release`,
    cacheDir: `${ROOT}dist/cache`,
  });
  for (const archive of archives) {
    for (
      const [what, bytes] of [["archive", archive.bytes], [
        "unpacked",
        archive.unpackedBytes,
      ]] as const
    ) {
      const label = `release ${archive.arch}: ${what}`;
      const value = bytes / MIB;
      print(
        `${label.padEnd(44)} ${
          value.toFixed(1).padStart(8)
        } MiB  (Go agent binary ${(goBytes / MIB).toFixed(1)} MiB)`,
      );
      recordFigure({
        label,
        median: value,
        n: 1,
        unit: "MiB",
        go: goBytes / MIB,
      });
    }
  }

  const root = `${dir}/root`;
  await buildAlpineLikeRoot("amd64", root, `${ROOT}dist/cache`);
  await unpackRelease(
    root,
    archives.find((a) => a.arch === "amd64")!.path,
    "amd64",
  );
  const released = () => {
    const { child, stderr } = spawnInRoot(root, [
      `/usr/local/${LAUNCHER_PATH}`,
      ...FLAGS,
    ], { enter: ns.enter });
    return { child, text: stderr.text };
  };
  const fromSource = () => {
    const { child, stderr } = spawnAgentProcess(FLAGS, ns.enter);
    return { child, text: stderr.text };
  };
  await measureStart(released);
  await measureStart(fromSource);
  const runs: Record<"released" | "source", Start[]> = {
    released: [],
    source: [],
  };
  for (let i = 0; i < RUNS; i++) {
    runs.released.push(await measureStart(released));
    runs.source.push(await measureStart(fromSource));
  }
  const rows = [
    ["start → first source connected", "connectedMs", "ms"],
    ["private memory once connected", "privateMiB", "MiB"],
  ] as const;
  for (const [what, field, unit] of rows) {
    const released = percentile(runs.released.map((r) => r[field]), 50);
    const source = percentile(runs.source.map((r) => r[field]), 50);
    for (
      const [label, value] of [
        [`release amd64 in an Alpine-like root: ${what}`, released],
        [`deno task start's command on this machine: ${what}`, source],
      ] as const
    ) {
      print(
        `${label.padEnd(72)} ${
          value.toFixed(1).padStart(8)
        } ${unit}  (median of ${RUNS})`,
      );
      recordFigure({ label, median: value, n: RUNS, unit });
    }
    print(
      `${"  ratio released / source".padEnd(72)} ${
        (released / source).toFixed(2).padStart(8)
      }`,
    );
  }
} finally {
  await cleanUp();
}
