/**
 * Alpine-like roots for testing the release where its users run it: a static
 * busybox and musl's loader from Debian's packages (pinned in
 * build/release_inputs.ts), no glibc anywhere. Commands run in them through
 * chroot inside a private mount namespace with /proc, /dev and /sys, so
 * nothing of the machine's mounts changes.
 *
 * An arm64 root runs under qemu-aarch64-static without touching the
 * machine's binfmt_misc: the command gets a user namespace of its own, with
 * its own binfmt_misc instance (Linux 6.7+) in which qemu is registered for
 * arm64 ELF files, so the root's own arm64 busybox and everything it execs
 * run emulated.
 *
 * @module
 */
import { pinnedInput, type ReleaseArch } from "../build/release_inputs.ts";
import { fetchPinnedInput, runIn } from "../build/fetch_input.ts";
import { assertEquals } from "./assert.ts";
import { exec } from "./netns.ts";
import { type CollectedText, collectText } from "./agent_process.ts";

/** What each arch's root needs from its packages. */
const MUSL_LOADER: Readonly<Record<ReleaseArch, string>> = {
  amd64: "ld-musl-x86_64.so.1",
  arm64: "ld-musl-aarch64.so.1",
};

/** The busybox applets a root gets (what the launcher, the flags script and the tests use). */
const APPLETS = [
  "sh",
  "ash",
  "cat",
  "chmod",
  "cp",
  "echo",
  "env",
  "grep",
  "gzip",
  "id",
  "kill",
  "ls",
  "mkdir",
  "mount",
  "printf",
  "readlink",
  "rm",
  "sed",
  "sleep",
  "tar",
  "true",
  "umount",
];

/** qemu's path, opened when the arm64 format is registered (the F flag). */
export const QEMU_AARCH64 = "/usr/bin/qemu-aarch64-static";

/** arm64 ELF executables, as Debian's qemu-user-static registers them. */
const AARCH64_BINFMT =
  ":qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:" +
  "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:" +
  `${QEMU_AARCH64}:F`;

/**
 * Builds an Alpine-like root for `arch` in `dir`: /bin/busybox with its
 * applets, musl's loader in /lib, the usual empty folders, a root user.
 *
 * @param cacheDir Where the pinned packages are kept between runs.
 */
export async function buildAlpineLikeRoot(
  arch: ReleaseArch,
  dir: string,
  cacheDir: string,
): Promise<void> {
  const unpacked = `${dir}.packages`;
  try {
    for (const name of ["busybox-static", "musl"]) {
      const deb = await fetchPinnedInput(pinnedInput(name, arch), cacheDir);
      await Deno.mkdir(`${unpacked}/${name}`, { recursive: true });
      await runIn(`${unpacked}/${name}`, "dpkg-deb", ["-x", deb, "."]);
    }
    for (
      const folder of [
        "bin",
        "lib",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "root",
        "var/run",
        "usr/local",
      ]
    ) {
      await Deno.mkdir(`${dir}/${folder}`, { recursive: true });
    }
    await Deno.chmod(`${dir}/tmp`, 0o1777);
    await Deno.copyFile(
      `${unpacked}/busybox-static/bin/busybox`,
      `${dir}/bin/busybox`,
    );
    await Deno.chmod(`${dir}/bin/busybox`, 0o755);
    for (const applet of APPLETS) {
      await Deno.symlink("busybox", `${dir}/bin/${applet}`);
    }
    const loader = MUSL_LOADER[arch];
    await Deno.copyFile(
      `${unpacked}/musl/lib/${loader}`,
      `${dir}/lib/${loader}`,
    );
    await Deno.chmod(`${dir}/lib/${loader}`, 0o755);
    await Deno.writeTextFile(
      `${dir}/etc/passwd`,
      "root:x:0:0:root:/root:/bin/sh\n",
    );
    await Deno.writeTextFile(`${dir}/etc/group`, "root:x:0:root\n");
  } finally {
    await Deno.remove(unpacked, { recursive: true }).catch(() => {});
  }
}

/** Files in `dir` named like a glibc file (loader or library). */
export async function glibcFilesIn(dir: string): Promise<string[]> {
  const found = await exec([
    "find",
    dir,
    "(",
    "-name",
    "ld-linux*",
    "-o",
    "-name",
    "libc.so*",
    "-o",
    "-name",
    "libc-*.so",
    ")",
  ]);
  return found.stdout.split("\n").filter((line) => line !== "");
}

/** How {@linkcode rootCommand} runs a command. */
export interface RootCommandOptions {
  /** Files or folders of the machine to bind at a path inside the root. */
  readonly binds?: readonly { readonly from: string; readonly to: string }[];
  /**
   * A user, mount, PID and network namespace of the command's own, with qemu
   * registered for arm64 in its binfmt_misc. unshare forks then: the command
   * is the child of the returned process, not that process.
   */
  readonly emulateArm64?: boolean;
  /** A prefix that enters a network namespace (a TestNamespace's `enter`). */
  readonly enter?: readonly string[];
}

const INSIDE = `set -e
root=$1; shift
if [ "$EMULATE" = 1 ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  printf '%s' "$BINFMT" > /proc/sys/fs/binfmt_misc/register
  ip link set lo up
fi
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
while [ "$1" != "--" ]; do
  mount --bind "$1" "$root$2"
  shift 2
done
shift
exec chroot "$root" "$@"`;

/**
 * The command line that runs `args` inside the root at `dir`, in a network
 * namespace when `options.enter` says. Without emulation every step execs,
 * so the spawned process is the command's.
 */
export function rootCommand(
  dir: string,
  args: readonly string[],
  options: RootCommandOptions = {},
): string[] {
  const namespaces = options.emulateArm64
    ? [
      "unshare",
      "--user",
      "--map-root-user",
      "--mount",
      "--pid",
      "--net",
      "--fork",
    ]
    : ["unshare", "--mount", "--propagation", "private"];
  return [
    ...options.enter ?? [],
    ...namespaces,
    "env",
    `EMULATE=${options.emulateArm64 ? 1 : 0}`,
    `BINFMT=${AARCH64_BINFMT}`,
    "sh",
    "-c",
    INSIDE,
    "sh",
    dir,
    ...(options.binds ?? []).flatMap((bind) => [bind.from, bind.to]),
    "--",
    ...args,
  ];
}

/** The environment a service manager gives a command: nothing of the test's. */
export const SERVICE_ENV: Readonly<Record<string, string>> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  NO_COLOR: "1",
};

/** Whether this machine can make a user namespace with its own binfmt_misc and run qemu in it. */
export async function canEmulateArm64(): Promise<boolean> {
  try {
    await Deno.stat(QEMU_AARCH64);
  } catch {
    return false;
  }
  const probe = await exec([
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "sh",
    "-c",
    "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc",
  ]);
  return probe.code === 0;
}

/** Runs `args` in the root with a service manager's environment. */
export async function runInRoot(
  root: string,
  args: readonly string[],
  options: RootCommandOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [program, ...rest] = rootCommand(root, args, options);
  const output = await new Deno.Command(program!, {
    args: rest,
    clearEnv: true,
    env: SERVICE_ENV,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Starts `args` in the root with a service manager's environment, its stderr collected. */
export function spawnInRoot(
  root: string,
  args: readonly string[],
  options: RootCommandOptions = {},
): { child: Deno.ChildProcess; stderr: CollectedText } {
  const [program, ...rest] = rootCommand(root, args, options);
  const child = new Deno.Command(program!, {
    args: rest,
    clearEnv: true,
    env: SERVICE_ENV,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return { child, stderr: collectText(child.stderr) };
}

/**
 * Unpacks a release archive into the root's /usr/local: amd64 with the
 * root's own busybox tar, as a user on Alpine would; arm64 with the
 * machine's tar (its busybox would need emulation for a plain unpack).
 */
export async function unpackRelease(
  root: string,
  archive: string,
  arch: ReleaseArch,
): Promise<void> {
  if (arch === "amd64") {
    await Deno.copyFile(archive, `${root}/tmp/release.tar.gz`);
    const unpacked = await exec([
      "chroot",
      root,
      "/bin/tar",
      "-xzf",
      "/tmp/release.tar.gz",
      "-C",
      "/usr/local",
    ]);
    await Deno.remove(`${root}/tmp/release.tar.gz`);
    assertEquals(unpacked.code, 0, unpacked.stderr);
  } else {
    await runIn(root, "tar", ["-xzf", archive, "-C", `${root}/usr/local`]);
  }
}
