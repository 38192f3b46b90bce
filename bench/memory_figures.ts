/**
 * The agent's RSS as users run it (a process started from the command
 * line with the start task's Deno flags, `--dry-run` so nothing is
 * forwarded on this machine), per source combination, from the source tree
 * (`deno run main.ts`) and from the bundled build (`deno task bundle`, the
 * JavaScript a compiled binary carries; `deno compile` itself cannot run
 * here). Each RSS is the median of a few runs. Next to them: the same agent
 * with V8's JIT (no `--v8-flags`), and the floor any agent of this shape
 * pays: Deno running an empty script, and that plus 2 or 4 idle workers.
 * The sources have real work: a real dockerd in a network namespace with
 * 10 running containers (reached through its unix socket; its managed
 * containerd serves the containerd source), the fake Kubernetes API server
 * with 10 services.
 * "All sources" is one engine (the CLI refuses -docker with -containerd,
 * as the Go agent does) with iptables, procnet and Kubernetes.
 *
 * The agent from the source tree is then left idle (the engines too) for
 * a while and its CPU use over that time is reported, per combination.
 *
 * Run: `deno run --allow-all bench/memory_figures.ts [settle seconds]
 * [idle seconds] [runs per figure]` (root)
 *
 * @module
 */
import { privateMounts } from "../tests/agent_process.ts";
import {
  canRunDockerd,
  startDockerd,
  TEST_IMAGE,
} from "../tests/engines/dockerd.ts";
import { FakeKubeApi, fakeService } from "../tests/fake_kube_api.ts";
import {
  cleanUpOnce,
  floorScript,
  percentile,
  print,
  processUsage,
  reportValue,
} from "./latency_support.ts";
import {
  AGENT_RUN_FLAGS,
  AGENT_V8_FLAGS,
  BUNDLE_RUN_FLAGS,
} from "../tests/agent_runtime.ts";

const SETTLE_SECONDS = Number(Deno.args[0] ?? 5);
/** How long the source tree's agent is watched idle for its CPU use. */
const IDLE_SECONDS = Number(Deno.args[1] ?? 60);
/** Runs per RSS figure (the median is reported). */
const SAMPLES = Number(Deno.args[2] ?? 3);
const ROOT = new URL("../", import.meta.url);
const SOURCE_BUILD = "deno run main.ts";
const JIT_BUILD = "deno run main.ts with the JIT";
function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

/** Starts deno with `args`, waits the settle time, returns its RSS and the process. */
async function rssAfterSettle(args: string[]) {
  // Where the agent mounts tracefs, it mounts it there, not on the machine.
  const [program, ...prefix] = [...privateMounts(), Deno.execPath()];
  const child = new Deno.Command(program!, {
    args: [...prefix, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  await sleep(SETTLE_SECONDS);
  try {
    return { child, rss: processUsage(child.pid).rssMiB };
  } catch (error) {
    const { code } = await child.status;
    throw new Error(
      `Cannot measure deno ${
        args.join(" ")
      }: it exited (${code}) within ${SETTLE_SECONDS} s (${
        (error as Error).message
      })`,
    );
  }
}

/** Sends SIGTERM and expects a clean exit. */
async function stopChecked(child: Deno.ChildProcess, name: string) {
  try {
    child.kill("SIGTERM");
  } catch { /* it ended: its status says how */ }
  const { code } = await child.status;
  if (code !== 0) throw new Error(`${name} exited ${code}`);
}

if (!await canRunDockerd()) {
  print(
    "memory_figures: needs root, dockerd, docker, busybox, nsenter and ip",
    Deno.stderr,
  );
  Deno.exit(1);
}

const dockerd = await startDockerd();
const api = new FakeKubeApi();
const dir = await Deno.makeTempDir({ prefix: "gamem" });
const cleanUp = cleanUpOnce("memory_figures", async () => {
  await dockerd.stop();
  await api.stop();
  await Deno.remove(dir, { recursive: true });
});

try {
  for (let i = 0; i < 10; i++) {
    await dockerd.docker([
      "run",
      "-d",
      "-p",
      `${22000 + i}:80`,
      TEST_IMAGE,
      "sleep",
      "3600",
    ]);
  }
  await api.start();
  for (let i = 0; i < 10; i++) {
    api.apply(
      fakeService(`m${i}`, "NodePort", [{ port: 80, nodePort: 30000 + i }]),
    );
  }
  await Deno.writeTextFile(`${dir}/kubeconfig`, api.kubeconfig());
  const containerdSocket = dockerd.socket.replace(
    /docker\.sock$/,
    "exec/containerd/containerd.sock",
  );

  // The bundled build, made by the bundle task's own command.
  const task: string = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ).tasks.bundle;
  const bundled = await new Deno.Command(Deno.execPath(), {
    // build/tasks.ts takes the output folder as its last argument.
    args: [...task.split(/\s+/).slice(1), `${dir}/bundle`],
    cwd: ROOT,
    stdin: "null",
  }).output();
  if (bundled.code !== 0) throw new Error("deno task bundle failed");

  const everythingOff = [
    "--no-iptables",
    "--no-procnet",
    `--kubeconfig=${dir}/none`,
  ];
  const combos: [string, string[], number?][] = [
    ["no source running (kubeconfig not there yet)", ["--kubernetes"]],
    ["procnet", ["--procnet"]],
    ["docker", ["--docker"]],
    ["kubernetes", ["--kubernetes", `--kubeconfig=${dir}/kubeconfig`]],
    [
      "docker + kubernetes",
      ["--docker", "--kubernetes", `--kubeconfig=${dir}/kubeconfig`],
      64,
    ],
    [
      "all sources, Docker as the engine",
      [
        "--docker",
        "--iptables",
        "--procnet",
        "--kubernetes",
        `--kubeconfig=${dir}/kubeconfig`,
      ],
      96,
    ],
    [
      "all sources, containerd as the engine",
      [
        "--containerd",
        "--iptables",
        "--procnet",
        "--kubernetes",
        `--kubeconfig=${dir}/kubeconfig`,
      ],
      96,
    ],
  ];
  const bundleRun = ["run", ...BUNDLE_RUN_FLAGS, `${dir}/bundle/main.js`];
  const builds: [string, string[], (target?: number) => boolean][] = [
    [SOURCE_BUILD, ["run", ...AGENT_RUN_FLAGS, "main.ts"], () => true],
    ["bundle", bundleRun, () => true],
    // The comparison: what the V8 flags save, where a target is set.
    [JIT_BUILD, ["run", "--allow-all", "main.ts"], (t) => t !== undefined],
  ];

  print(
    `RSS ${SETTLE_SECONDS} s after start, median of ${SAMPLES} runs (then ${IDLE_SECONDS} s idle for CPU, source tree only), --dry-run, dockerd with 10 containers, fake API with 10 services; V8 flags as the start task: ${
      AGENT_V8_FLAGS.join(" ") || "none"
    }`,
  );
  for (const workers of [0, 2, 4]) {
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const { child, rss } = await rssAfterSettle([
        "eval",
        ...AGENT_V8_FLAGS,
        floorScript(workers),
      ]);
      samples.push(rss);
      await stopChecked(child, "the floor script");
    }
    reportValue(
      `RSS floor: Deno, empty script + ${workers} idle workers`,
      percentile(samples, 50),
      "MiB",
      undefined,
      samples.length,
    );
  }
  for (const [build, command, wanted] of builds) {
    for (const [name, flags, target] of combos) {
      if (!wanted(target)) continue;
      const agentFlags = [
        "--dry-run",
        "--control-socket=",
        `--docker-socket=${dockerd.socket}`,
        `--containerd-sock=${containerdSocket}`,
        ...everythingOff,
        ...flags,
      ];
      const samples: number[] = [];
      let idleCpu: number | undefined;
      for (let i = 0; i < SAMPLES; i++) {
        const { child, rss } = await rssAfterSettle([
          ...command,
          ...agentFlags,
        ]);
        samples.push(rss);
        try {
          if (build === SOURCE_BUILD && IDLE_SECONDS > 0 && i === 0) {
            const before = processUsage(child.pid).cpuSeconds;
            await sleep(IDLE_SECONDS);
            idleCpu = (processUsage(child.pid).cpuSeconds - before) /
              IDLE_SECONDS * 100;
          }
        } finally {
          await stopChecked(child, `the agent (${name})`);
        }
      }
      reportValue(
        `RSS, ${build}, ${name}`,
        percentile(samples, 50),
        "MiB",
        target,
        samples.length,
      );
      if (idleCpu !== undefined) {
        reportValue(`idle CPU, ${name}`, idleCpu, "% of a core", 0.5);
      }
    }
  }
} finally {
  await cleanUp();
}
