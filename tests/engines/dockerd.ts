/**
 * A real dockerd for tests, inside a network namespace the test creates
 * (docs/testing.md): its own data root, exec root, containerd namespaces and an
 * image imported from busybox-static (no registry needed). Everything it
 * starts is stopped by PID and removed.
 *
 * @module
 */
import { createTestNamespace, exec, type TestNamespace } from "../netns.ts";
import {
  alive,
  answersPing,
  buildBusyboxRootfsTar,
  haveCommands,
  killLeftoverShims,
  removeDaemonDir,
  spawnDaemon,
  stopProcess,
  waitUntil,
} from "./daemon_support.ts";

/** The image every test container runs. */
export const TEST_IMAGE = "ga/busybox";

/** The command of a test container: busybox's httpd serving /www on 8080. */
export const HTTPD: readonly string[] = [
  "busybox",
  "httpd",
  "-f",
  "-p",
  "8080",
  "-h",
  "/www",
];

/** `docker run -d --name NAME -p P… TEST_IMAGE httpd`; resolves with its id. */
export function runHttpd(
  d: Pick<Dockerd, "docker">,
  name: string,
  ...publish: string[]
): Promise<string> {
  return d.docker([
    "run",
    "-d",
    "--name",
    name,
    ...publish.flatMap((p) => ["-p", p]),
    TEST_IMAGE,
    ...HTTPD,
  ]);
}

/** A running dockerd. */
export interface Dockerd {
  /** Its API socket. */
  readonly socket: string;
  /** Its namespace. */
  readonly ns: TestNamespace;
  /** Runs the docker CLI against it; rejects with stderr on failure. */
  docker(args: readonly string[]): Promise<string>;
  /** Stops dockerd (its containers die) and starts it again on the same data. */
  restart(): Promise<void>;
  /**
   * Kills dockerd with SIGKILL (a crash: its managed containerd and
   * docker-proxy processes die with it, the shims live on) and starts it
   * again on the same data, without the stale pid and socket files.
   */
  crashAndRestart(): Promise<void>;
  /** Removes every container, stops dockerd, deletes the namespace and files. */
  stop(): Promise<void>;
}

/** Whether a dockerd can run here: root, dockerd, busybox, nsenter, ip. */
export async function canRunDockerd(): Promise<boolean> {
  return Deno.uid() === 0 &&
    await haveCommands(["dockerd", "docker", "busybox", "nsenter", "ip"]);
}

/** Options of {@linkcode startDockerd}. */
export interface DockerdOptions {
  /** Run docker-proxy for published ports (dockerd's default). @default true */
  readonly userlandProxy?: boolean;
}

/** Starts dockerd in a fresh namespace and imports the test image. */
export async function startDockerd(
  options: DockerdOptions = {},
): Promise<Dockerd> {
  const dir = await Deno.makeTempDir({ prefix: "gad" });
  const ns = await createTestNamespace("ga-docker");
  const socket = `${dir}/docker.sock`;
  const pidfile = `${dir}/dockerd.pid`;
  const tag = `${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
  let pid = 0;

  const launch = async () => {
    await spawnDaemon(
      ns.enter,
      [
        "dockerd",
        "-H",
        `unix://${socket}`,
        "--data-root",
        `${dir}/data`,
        "--exec-root",
        `${dir}/exec`,
        "--pidfile",
        pidfile,
        "--containerd-namespace",
        `ga-moby-${tag}`,
        "--containerd-plugins-namespace",
        `ga-plugins-${tag}`,
        "--storage-driver",
        "overlay2",
        "--iptables=true",
        `--userland-proxy=${options.userlandProxy ?? true}`,
      ],
      `${dir}/dockerd.log`,
    );
    await waitUntil(
      async () => {
        try {
          pid = Number((await Deno.readTextFile(pidfile)).trim());
          return await answersPing(socket);
        } catch {
          return false;
        }
      },
      30_000,
      `dockerd to answer (log: ${dir}/dockerd.log)`,
    );
  };

  const docker = async (args: readonly string[]) => {
    const result = await exec(["docker", "-H", `unix://${socket}`, ...args]);
    if (result.code !== 0) {
      throw new Error(
        `docker ${args.join(" ")} failed: ${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  };

  const stopDaemon = () => stopProcess(pid);

  try {
    await launch();
    await docker(["import", await buildBusyboxRootfsTar(dir), TEST_IMAGE]);
  } catch (error) {
    await stopDaemon();
    await ns.delete();
    throw error;
  }

  return {
    socket,
    ns,
    docker,
    async restart() {
      await stopDaemon();
      await launch();
    },
    async crashAndRestart() {
      Deno.kill(pid, "SIGKILL");
      await waitUntil(() => !alive(pid), 10_000, "dockerd to die");
      for (
        const stale of [
          pidfile,
          socket,
          `${dir}/exec/containerd/containerd.pid`,
          `${dir}/exec/containerd/containerd.sock`,
          `${dir}/exec/containerd/containerd.sock.ttrpc`,
          `${dir}/exec/containerd/containerd-debug.sock`,
        ]
      ) {
        await Deno.remove(stale).catch(() => {});
      }
      await launch();
    },
    async stop() {
      try {
        const ids = (await docker(["ps", "-aq"])).trim().split("\n").filter(
          Boolean,
        );
        if (ids.length > 0) await docker(["rm", "-f", ...ids]);
      } catch { /* the daemon may be gone already */ }
      await stopDaemon();
      killLeftoverShims(`${dir}/exec/containerd/containerd.sock`);
      await ns.delete();
      await removeDaemonDir(dir);
    },
  };
}
