/**
 * The agent's RSS as users run it (a process started from the command
 * line, `--dry-run` so nothing is forwarded on this machine), per source
 * combination, from the source tree (`deno run main.ts`) and from the
 * bundled build (`deno task bundle`, the JavaScript a compiled binary
 * carries; `deno compile` itself cannot run here). The sources have real
 * work: a real dockerd in a network namespace with 10 running containers
 * (reached through its unix socket; its managed containerd serves the
 * containerd source), the fake Kubernetes API server with 10 services.
 * "All sources" is one engine (the CLI refuses -docker with -containerd,
 * as the Go agent does) with iptables, procnet and Kubernetes.
 *
 * The agent from the source tree is then left idle (the engines too) for
 * a while and its CPU use over that time is reported, per combination.
 *
 * Run: `deno run --allow-all bench/memory_figures.ts [settle seconds]
 * [idle seconds]` (root)
 *
 * @module
 */
import {
  canRunDockerd,
  startDockerd,
  TEST_IMAGE,
} from "../tests/engines/dockerd.ts";
import { FakeKubeApi, fakeService } from "../tests/fake_kube_api.ts";
import {
  cleanUpOnce,
  print,
  processUsage,
  reportValue,
} from "./latency_support.ts";

const SETTLE_SECONDS = Number(Deno.args[0] ?? 5);
/** How long the source tree's agent is watched idle for its CPU use. */
const IDLE_SECONDS = Number(Deno.args[1] ?? 60);
const ROOT = new URL("../", import.meta.url);
const SOURCE_BUILD = "deno run main.ts";

function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
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
    args: task.split(/\s+/).slice(1).map((arg) =>
      arg === "dist/bundle" ? `${dir}/bundle` : arg
    ),
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
  const builds: [string, string[]][] = [
    [SOURCE_BUILD, ["run", "--allow-all", "main.ts"]],
    ["bundle", [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--unstable-net",
      `${dir}/bundle/main.js`,
    ]],
  ];
  print(
    `agent RSS ${SETTLE_SECONDS} s after start (then ${IDLE_SECONDS} s idle for CPU, source tree only), --dry-run, dockerd with 10 containers, fake API with 10 services`,
  );
  for (const [build, command] of builds) {
    for (const [name, flags, target] of combos) {
      const agent = new Deno.Command(Deno.execPath(), {
        args: [
          ...command,
          "--dry-run",
          "--control-socket=",
          `--docker-socket=${dockerd.socket}`,
          `--containerd-sock=${containerdSocket}`,
          ...everythingOff,
          ...flags,
        ],
        cwd: ROOT,
        stdin: "null",
        stdout: "null",
        stderr: "null",
        env: { NO_COLOR: "1" },
      }).spawn();
      let rss: number;
      let idleCpu: number | undefined;
      try {
        await sleep(SETTLE_SECONDS);
        rss = processUsage(agent.pid).rssMiB;
        if (build === SOURCE_BUILD && IDLE_SECONDS > 0) {
          const before = processUsage(agent.pid).cpuSeconds;
          await sleep(IDLE_SECONDS);
          idleCpu = (processUsage(agent.pid).cpuSeconds - before) /
            IDLE_SECONDS * 100;
        }
      } finally {
        try {
          agent.kill("SIGTERM");
        } catch { /* it ended: its status says how */ }
      }
      const { code } = await agent.status;
      if (code !== 0) throw new Error(`the agent (${name}) exited ${code}`);
      reportValue(`RSS, ${build}, ${name}`, rss, "MiB", target);
      if (idleCpu !== undefined) {
        reportValue(`idle CPU, ${name}`, idleCpu, "% of a core", 0.5);
      }
    }
  }
} finally {
  await cleanUp();
}
