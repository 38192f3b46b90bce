/**
 * A real Podman (Debian's 4.3) serving the Docker API for tests, inside a
 * network namespace the test creates (docs/testing.md): rootful, every store and
 * config under a temp folder, netavark networking, the busybox image
 * imported from a tarball. Everything it starts is stopped by PID and
 * removed.
 *
 * @module
 */
import { createTestNamespace, exec, type TestNamespace } from "../netns.ts";
import {
  alive,
  answersPing,
  buildBusyboxRootfsTar,
  haveCommands,
  removeDaemonDir,
  spawnDaemon,
  stopProcess,
  waitUntil,
} from "./daemon_support.ts";

/** The image every test container runs. */
export const PODMAN_IMAGE = "localhost/ga-busybox";

/** A running Podman API service. */
export interface Podman {
  /** Its Docker-compatible API socket. */
  readonly socket: string;
  /** Its namespace. */
  readonly ns: TestNamespace;
  /** Runs the podman CLI on the same stores; rejects with stderr on failure. */
  podman(args: readonly string[]): Promise<string>;
  /** Stops the API service (containers keep running under conmon). */
  stopService(): Promise<void>;
  /** Starts the API service again. */
  startService(): Promise<void>;
  /** Removes every container and pod, stops the service, deletes the rest. */
  stop(): Promise<void>;
}

/** Whether Podman can run here: root, podman, netavark, catatonit, busybox, nsenter. */
export async function canRunPodman(): Promise<boolean> {
  const helpers = ["/usr/lib/podman/netavark", "/usr/libexec/podman/netavark"];
  let netavark = false;
  for (const path of helpers) {
    netavark ||= await Deno.stat(path).then(() => true, () => false);
  }
  return Deno.uid() === 0 && netavark &&
    await haveCommands(["podman", "catatonit", "busybox", "nsenter", "ip"]);
}

/** Starts `podman system service` in a fresh namespace and imports the test image. */
export async function startPodman(): Promise<Podman> {
  const dir = await Deno.makeTempDir({ prefix: "gapm" });
  const ns = await createTestNamespace("ga-podman");
  const socket = `${dir}/podman.sock`;
  const conf = `${dir}/containers.conf`;
  // Without the ulimits runc fails here: "error setting rlimit type 6".
  await Deno.writeTextFile(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n',
  );
  const command = [
    "env",
    `CONTAINERS_CONF=${conf}`,
    "podman",
    "--root",
    `${dir}/root`,
    "--runroot",
    `${dir}/run`,
    "--tmpdir",
    `${dir}/tmp`,
    "--storage-driver",
    "vfs",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
    "--network-config-dir",
    `${dir}/net`,
    "--network-backend",
    "netavark",
  ];
  let pid = 0;

  const podman = async (args: readonly string[]) => {
    const result = await exec([...ns.enter, "--", ...command, ...args]);
    if (result.code !== 0) {
      throw new Error(
        `podman ${args.join(" ")} failed: ${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  };
  const startService = async () => {
    await Deno.remove(socket).catch(() => {});
    pid = await spawnDaemon(
      ns.enter,
      [...command, "system", "service", "--time=0", `unix://${socket}`],
      `${dir}/service.log`,
    );
    await waitUntil(
      () => answersPing(socket),
      30_000,
      `podman system service to answer (log: ${dir}/service.log)`,
    );
  };
  const stopService = async () => {
    await stopProcess(pid);
    await waitUntil(() => !alive(pid), 10_000, "podman service to exit");
  };

  try {
    await podman([
      "import",
      await buildBusyboxRootfsTar(dir),
      PODMAN_IMAGE,
    ]);
    await startService();
  } catch (error) {
    await stopProcess(pid);
    await ns.delete();
    await removeDaemonDir(dir);
    throw error;
  }

  return {
    socket,
    ns,
    podman,
    stopService,
    startService,
    async stop() {
      // conmon outlives the service: remove what runs first.
      await podman(["pod", "rm", "-af", "-t", "0"]).catch(() => "");
      await podman(["rm", "-af", "-t", "0"]).catch(() => "");
      await stopProcess(pid);
      await ns.delete();
      await removeDaemonDir(dir);
    },
  };
}
