/**
 * What the real-engine harnesses share: process liveness, polling until a
 * daemon answers, the busybox root filesystem every test container runs,
 * and removing a daemon's leftover mounts and files.
 *
 * @module
 */
import { exec } from "../netns.ts";
import { waitFor } from "../wait.ts";

/** Whether the process `pid` still exists. */
export function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Whether an engine answers `GET /_ping` (the Docker API) on `socket`. */
export async function answersPing(socket: string): Promise<boolean> {
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: socket },
  });
  try {
    const response = await fetch("http://engine/_ping", { client });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** Polls `check` every 50 ms until it holds; rejects after `timeoutMs`. */
export function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return waitFor(check, timeoutMs, () => ` for ${what}`, { intervalMs: 50 });
}

/** Sends SIGTERM to `pid`, waits up to `timeoutMs`, then SIGKILL. */
export async function stopProcess(
  pid: number,
  timeoutMs = 30_000,
): Promise<void> {
  if (pid <= 0 || !alive(pid)) return;
  Deno.kill(pid, "SIGTERM");
  await waitUntil(() => !alive(pid), timeoutMs, `process ${pid} to exit`)
    .catch(() => {
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
    });
}

/**
 * Starts a daemon in its own session inside a network namespace
 * (`setsid nsenter --net=… -- args…`), its stderr appended to `logPath`.
 * setsid forks only when it leads a process group, which it does not here:
 * it execs nsenter, which execs the daemon, so the PID is the daemon's.
 *
 * @returns The daemon's PID.
 */
export async function spawnDaemon(
  enter: readonly string[],
  args: readonly string[],
  logPath: string,
): Promise<number> {
  const log = await Deno.open(logPath, {
    append: true,
    create: true,
    write: true,
  });
  const child = new Deno.Command("setsid", {
    args: [...enter, "--", ...args],
    stdin: "null",
    stdout: "null",
    // Drained into the log file, or the daemon blocks once the pipe is full.
    stderr: "piped",
  }).spawn();
  child.stderr.pipeTo(log.writable).catch(() => {});
  return child.pid;
}

/**
 * Kills, by PID, the containerd shims of the daemon at `socket` that
 * outlived it (a crash can orphan them) and their container processes:
 * found by that unique socket path on their command line.
 */
export function killLeftoverShims(socket: string): void {
  const processes = [...Deno.readDirSync("/proc")]
    .filter((entry) => /^\d+$/.test(entry.name))
    .map((entry) => {
      try {
        const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`)
          .split("\0");
        const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
        const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1] ?? 0);
        return { pid: Number(entry.name), ppid, cmdline };
      } catch {
        return undefined; // gone meanwhile
      }
    })
    .filter((p) => p !== undefined);
  const shims = processes.filter((p) =>
    p.cmdline[0]?.includes("containerd-shim") &&
    p.cmdline.includes("-address") && p.cmdline.includes(socket)
  ).map((p) => p.pid);
  const children = processes.filter((p) => shims.includes(p.ppid)).map((p) =>
    p.pid
  );
  for (const pid of [...children, ...shims]) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
}

/** Whether every program in `names` is on PATH. */
export async function haveCommands(names: readonly string[]): Promise<boolean> {
  for (const name of names) {
    if ((await exec(["sh", "-c", `command -v ${name}`])).code !== 0) {
      return false;
    }
  }
  return true;
}

/**
 * Builds `<dir>/rootfs.tar`: busybox-static with its applets and a /www page.
 *
 * @returns The tarball's path.
 */
export async function buildBusyboxRootfsTar(dir: string): Promise<string> {
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
  // `busybox --install -s` would link to the host path: link relatively.
  const applets = (await exec([`${rootfs}/bin/busybox`, "--list"])).stdout
    .split("\n").filter((name) =>
      /^[\w.[-]+$/.test(name) && name !== "busybox"
    );
  for (const applet of applets) {
    await Deno.symlink("busybox", `${rootfs}/bin/${applet}`);
  }
  await Deno.writeTextFile(`${rootfs}/www/index.html`, "guest-agent test\n");
  const tar = `${dir}/rootfs.tar`;
  const made = await exec(["tar", "-C", rootfs, "-cf", tar, "."]);
  if (made.code !== 0) {
    throw new Error(`Cannot build the image tarball: ${made.stderr}`);
  }
  return tar;
}

/** Unmounts whatever is still mounted under `dir` (deepest first), removes it. */
export async function removeDaemonDir(dir: string): Promise<void> {
  const mounts = (await Deno.readTextFile("/proc/mounts")).split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mount) => mount.startsWith(dir))
    .sort()
    .reverse();
  for (const mount of mounts) await exec(["umount", "-l", mount]);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
