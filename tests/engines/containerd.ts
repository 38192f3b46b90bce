/**
 * A real containerd for tests, driven by `ctr`, inside a network namespace
 * the test creates (docs/testing.md): its own root, state, socket and an image
 * built by hand as an OCI layout from busybox-static (no registry needed).
 * Everything it starts is killed and removed by id, the daemon by PID.
 *
 * @module
 */
import { encodeHex } from "./hex.ts";
import { createTestNamespace, exec, type TestNamespace } from "../netns.ts";
import {
  alive,
  buildBusyboxRootfsTar,
  haveCommands,
  killLeftoverShims,
  removeDaemonDir,
  spawnDaemon,
  stopProcess,
  waitUntil,
} from "./daemon_support.ts";

/** The image every test container runs (imported into each namespace used). */
export const CONTAINERD_TEST_IMAGE = "docker.io/ga/busybox:latest";

/** Options of {@linkcode Containerd.run}. */
export interface CtrRunOptions {
  /** Container labels, e.g. `nerdctl/ports`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** The command. @default ["sleep", "3600"] */
  readonly command?: readonly string[];
}

/** A running containerd. */
export interface Containerd {
  /** Its gRPC socket. */
  readonly socket: string;
  /** Its network namespace. */
  readonly ns: TestNamespace;
  /** The temp dir holding everything of this daemon. */
  readonly dir: string;
  /** The daemon's PID. */
  readonly pid: () => number;
  /** Runs `ctr -n <namespace> …`; rejects with stderr on failure. */
  ctr(namespace: string, args: readonly string[]): Promise<string>;
  /** `ctr run -d` of the test image (imported into `namespace` on first use). */
  run(namespace: string, id: string, options?: CtrRunOptions): Promise<void>;
  /** Kills the task with SIGKILL and waits until it stopped. */
  kill(namespace: string, id: string): Promise<void>;
  /** Kills (if running) and removes the task and the container. */
  remove(namespace: string, id: string): Promise<void>;
  /** Stops the daemon (SIGTERM; the shims and containers live on). */
  stopDaemon(): Promise<void>;
  /** Kills the daemon with SIGKILL (a crash; the shims live on). */
  killDaemon(): Promise<void>;
  /** Starts the daemon again on the same root. */
  startDaemon(): Promise<void>;
  /** Removes every container it ran, stops it, deletes namespace and files. */
  stop(): Promise<void>;
}

/** Whether a containerd can run here: root, containerd, ctr, runc, busybox, nsenter, ip. */
export async function canRunContainerd(): Promise<boolean> {
  return Deno.uid() === 0 &&
    await haveCommands([
      "containerd",
      "ctr",
      "runc",
      "busybox",
      "nsenter",
      "ip",
      "tar",
    ]);
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return encodeHex(
    new Uint8Array(
      await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
    ),
  );
}

/** Builds an OCI image layout tarball of one busybox layer (docs/testing.md). */
async function buildOciImageTar(dir: string): Promise<string> {
  const layer = await Deno.readFile(await buildBusyboxRootfsTar(dir));
  const layout = `${dir}/oci`;
  const blobs = `${layout}/blobs/sha256`;
  await Deno.mkdir(blobs, { recursive: true });
  const addBlob = async (bytes: Uint8Array) => {
    const digest = await sha256(bytes);
    await Deno.writeFile(`${blobs}/${digest}`, bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  const json = (value: unknown) =>
    new TextEncoder().encode(JSON.stringify(value));
  const layerBlob = await addBlob(layer);
  const configBlob = await addBlob(json({
    architecture: Deno.build.arch === "aarch64" ? "arm64" : "amd64",
    os: "linux",
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/bin"], WorkingDir: "/" },
    rootfs: { type: "layers", diff_ids: [layerBlob.digest] },
  }));
  const manifestBlob = await addBlob(json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      ...configBlob,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      ...layerBlob,
    }],
  }));
  await Deno.writeTextFile(
    `${layout}/oci-layout`,
    JSON.stringify({ imageLayoutVersion: "1.0.0" }),
  );
  await Deno.writeTextFile(
    `${layout}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifestBlob,
        annotations: {
          "io.containerd.image.name": CONTAINERD_TEST_IMAGE,
          "org.opencontainers.image.ref.name": "latest",
        },
      }],
    }),
  );
  const tar = `${dir}/oci-image.tar`;
  const made = await exec(["tar", "-C", layout, "-cf", tar, "."]);
  if (made.code !== 0) {
    throw new Error(`Cannot build the OCI image tarball: ${made.stderr}`);
  }
  return tar;
}

/** Starts containerd in a fresh network namespace. */
export async function startContainerd(): Promise<Containerd> {
  const dir = await Deno.makeTempDir({ prefix: "gac" });
  const ns = await createTestNamespace("ga-ctrd");
  const socket = `${dir}/containerd.sock`;
  const config = `${dir}/containerd.toml`;
  await Deno.writeTextFile(
    config,
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${socket}.ttrpc"`,
      "[debug]",
      `  address = "${dir}/debug.sock"`,
      "",
    ].join("\n"),
  );
  let pid = 0;
  const imported = new Map<string, Promise<unknown>>();
  const created = new Set<string>(); // "namespace\0id"
  let imageTar: Promise<string> | undefined;

  const startDaemon = async () => {
    pid = await spawnDaemon(
      ns.enter,
      ["containerd", "--config", config],
      `${dir}/containerd.log`,
    );
    await waitUntil(
      async () => (await exec(["ctr", "-a", socket, "version"])).code === 0,
      30_000,
      `containerd to answer (log: ${dir}/containerd.log)`,
    );
  };

  const ctr = async (namespace: string, args: readonly string[]) => {
    const result = await exec(["ctr", "-a", socket, "-n", namespace, ...args]);
    if (result.code !== 0) {
      throw new Error(
        `ctr -n ${namespace} ${args.join(" ")} failed: ${result.stderr.trim()}`,
      );
    }
    return result.stdout;
  };

  const taskStatus = async (namespace: string, id: string) => {
    const result = await exec([
      "ctr",
      "-a",
      socket,
      "-n",
      namespace,
      "task",
      "ls",
    ]);
    const line = result.stdout.split("\n").find((row) =>
      row.split(/\s+/)[0] === id
    );
    return line?.split(/\s+/)[2];
  };

  const kill = async (namespace: string, id: string) => {
    await ctr(namespace, ["task", "kill", "-s", "SIGKILL", id]);
    await waitUntil(
      async () => (await taskStatus(namespace, id)) !== "RUNNING",
      10_000,
      `task ${namespace}/${id} to stop`,
    );
  };

  const remove = async (namespace: string, id: string) => {
    const status = await taskStatus(namespace, id);
    if (status === "RUNNING" || status === "PAUSED") {
      await kill(namespace, id).catch(() => {});
    }
    if (status !== undefined) {
      await exec(["ctr", "-a", socket, "-n", namespace, "task", "rm", id]);
    }
    await exec(["ctr", "-a", socket, "-n", namespace, "container", "rm", id]);
    created.delete(`${namespace}\0${id}`);
  };

  try {
    await startDaemon();
  } catch (error) {
    await stopProcess(pid);
    await ns.delete();
    await removeDaemonDir(dir);
    throw error;
  }

  return {
    socket,
    ns,
    dir,
    pid: () => pid,
    ctr,
    async run(namespace, id, options = {}) {
      let image = imported.get(namespace);
      if (image === undefined) {
        imageTar ??= buildOciImageTar(dir);
        image = imageTar.then((tar) =>
          ctr(namespace, ["image", "import", tar])
        );
        imported.set(namespace, image);
      }
      await image;
      const labels = Object.entries(options.labels ?? {}).flatMap((
        [key, value],
      ) => ["--label", `${key}=${value}`]);
      created.add(`${namespace}\0${id}`);
      await ctr(namespace, [
        "run",
        "-d",
        "--fifo-dir",
        `${dir}/fifo`,
        "--runc-root",
        `${dir}/runc`,
        ...labels,
        CONTAINERD_TEST_IMAGE,
        id,
        ...(options.command ?? ["sleep", "3600"]),
      ]);
    },
    kill,
    remove,
    stopDaemon: () => stopProcess(pid),
    async killDaemon() {
      if (pid > 0 && alive(pid)) Deno.kill(pid, "SIGKILL");
      await waitUntil(() => !alive(pid), 10_000, "containerd to die");
    },
    startDaemon,
    async stop() {
      for (const key of [...created]) {
        const [namespace, id] = key.split("\0") as [string, string];
        await remove(namespace, id).catch(() => {});
      }
      await stopProcess(pid);
      killLeftoverShims(socket);
      await ns.delete();
      await removeDaemonDir(dir);
    },
  };
}
