/**
 * A real dockerd for tests, inside a network namespace the test creates
 * (ENGINES.md): its own data root, exec root, containerd namespaces and an
 * image imported from busybox-static (no registry needed). Everything it
 * starts is stopped by PID and removed.
 *
 * @module
 */
import { createTestNamespace, exec, type TestNamespace } from "../netns.ts";

/** The image every test container runs. */
export const TEST_IMAGE = "ga/busybox";

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
  /** Removes every container, stops dockerd, deletes the namespace and files. */
  stop(): Promise<void>;
}

async function which(name: string): Promise<boolean> {
  return (await exec(["sh", "-c", `command -v ${name}`])).code === 0;
}

/** Whether a dockerd can run here: root, dockerd, busybox, nsenter, ip. */
export async function canRunDockerd(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  for (const tool of ["dockerd", "docker", "busybox", "nsenter", "ip"]) {
    if (!await which(tool)) return false;
  }
  return true;
}

async function ping(socket: string): Promise<boolean> {
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: socket },
  });
  try {
    const response = await fetch("http://docker/_ping", { client });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
) {
  const start = performance.now();
  while (!await check()) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function buildImageTar(dir: string): Promise<string> {
  const rootfs = `${dir}/rootfs`;
  await Deno.mkdir(`${rootfs}/bin`, { recursive: true });
  await Deno.mkdir(`${rootfs}/www`, { recursive: true });
  await Deno.copyFile("/usr/bin/busybox", `${rootfs}/bin/busybox`).catch(
    async () => {
      const path = (await exec(["sh", "-c", "command -v busybox"])).stdout
        .trim();
      await Deno.copyFile(path, `${rootfs}/bin/busybox`);
    },
  );
  await Deno.chmod(`${rootfs}/bin/busybox`, 0o755);
  await exec([`${rootfs}/bin/busybox`, "--install", "-s", `${rootfs}/bin`]);
  await Deno.writeTextFile(`${rootfs}/www/index.html`, "guest-agent test\n");
  const tar = `${dir}/rootfs.tar`;
  const made = await exec(["tar", "-C", rootfs, "-cf", tar, "."]);
  if (made.code !== 0) {
    throw new Error(`Cannot build the image tarball: ${made.stderr}`);
  }
  return tar;
}

/** Starts dockerd in a fresh namespace and imports the test image. */
export async function startDockerd(): Promise<Dockerd> {
  const dir = await Deno.makeTempDir({ prefix: "gad" });
  const ns = await createTestNamespace("ga-docker");
  const socket = `${dir}/docker.sock`;
  const pidfile = `${dir}/dockerd.pid`;
  const tag = `${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
  let pid = 0;

  const launch = async () => {
    const log = await Deno.open(`${dir}/dockerd.log`, {
      append: true,
      create: true,
      write: true,
    });
    const child = new Deno.Command("setsid", {
      args: [
        ...ns.enter,
        "--",
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
      ],
      stdin: "null",
      stdout: "null",
      // dockerd logs to stderr: drain it into the log file, or dockerd
      // blocks once the pipe is full.
      stderr: "piped",
    }).spawn();
    child.stderr.pipeTo(log.writable).catch(() => {});
    await waitUntil(
      async () => {
        try {
          pid = Number((await Deno.readTextFile(pidfile)).trim());
          return await ping(socket);
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

  const stopDaemon = async () => {
    if (pid > 0 && alive(pid)) {
      Deno.kill(pid, "SIGTERM");
      await waitUntil(() => !alive(pid), 30_000, "dockerd to exit").catch(
        () => {
          if (alive(pid)) Deno.kill(pid, "SIGKILL");
        },
      );
    }
  };

  try {
    await launch();
    await docker(["import", await buildImageTar(dir), TEST_IMAGE]);
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
    async stop() {
      try {
        const ids = (await docker(["ps", "-aq"])).trim().split("\n").filter(
          Boolean,
        );
        if (ids.length > 0) await docker(["rm", "-f", ...ids]);
      } catch { /* the daemon may be gone already */ }
      await stopDaemon();
      await ns.delete();
      const mounts = (await Deno.readTextFile("/proc/mounts")).split("\n")
        .map((line) => line.split(" ")[1] ?? "")
        .filter((mount) => mount.startsWith(dir))
        .sort()
        .reverse();
      for (const mount of mounts) await exec(["umount", "-l", mount]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
