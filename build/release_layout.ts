/**
 * What a release archive holds and where, for each architecture: pure, so
 * the launcher's text and the layout are tested without building anything.
 *
 * The archive is made to be unpacked into /usr/local:
 *
 *   bin/rancher-desktop-guestagent      the launcher (POSIX sh)
 *   libexec/guest-agent-flags           flags from /etc/conf.d (packaging/)
 *   share/guest-agent/                  the OpenRC, conf.d and systemd files
 *   lib/guest-agent/deno                Deno, from its npm platform package
 *   lib/guest-agent/ld-linux-*.so.*     glibc's loader  } from Debian's
 *   lib/guest-agent/lib*.so.*           Deno's libraries } packages
 *   lib/guest-agent/bundle/             main.js and every source's worker.js
 *   lib/guest-agent/licenses/           the licence of everything shipped
 *
 * @module
 */
import type { ReleaseArch } from "./release_inputs.ts";

/** What differs between the architectures. */
export interface ReleaseArchInfo {
  /** Debian's name, used in the archive's name. */
  readonly arch: ReleaseArch;
  /** Deno's npm platform package. */
  readonly denoPackage: string;
  /** Debian's multiarch folder, where the .debs keep the libraries. */
  readonly multiarch: string;
  /** glibc's loader (the program interpreter Deno names). */
  readonly loader: string;
}

/** Each architecture a release is built for. */
export const RELEASE_ARCHES: Readonly<Record<ReleaseArch, ReleaseArchInfo>> = {
  amd64: {
    arch: "amd64",
    denoPackage: "@deno/linux-x64-glibc",
    multiarch: "x86_64-linux-gnu",
    loader: "ld-linux-x86-64.so.2",
  },
  arm64: {
    arch: "arm64",
    denoPackage: "@deno/linux-arm64-glibc",
    multiarch: "aarch64-linux-gnu",
    loader: "ld-linux-aarch64.so.1",
  },
};

/** The libraries Deno links against besides the loader (its DT_NEEDED), and their packages. */
export const DENO_LIBRARIES: readonly { file: string; debian: string }[] = [
  { file: "libc.so.6", debian: "libc6" },
  { file: "libdl.so.2", debian: "libc6" },
  { file: "libm.so.6", debian: "libc6" },
  { file: "libpthread.so.0", debian: "libc6" },
  { file: "librt.so.1", debian: "libc6" },
  { file: "libgcc_s.so.1", debian: "libgcc-s1" },
];

/** The launcher, where Rancher Desktop's service starts the agent from /usr/local. */
export const LAUNCHER_PATH = "bin/rancher-desktop-guestagent";
/** The folder of Deno, glibc and the bundle. */
export const LIB_DIR = "lib/guest-agent";
/** The script that turns /etc/conf.d settings into flags. */
export const FLAGS_SCRIPT_PATH = "libexec/guest-agent-flags";
/** The service files, to copy into /etc. */
export const SERVICE_FILES_DIR = "share/guest-agent";

/** The archive's file name for `arch`. */
export function archiveName(arch: ReleaseArch): string {
  return `rancher-desktop-guestagent-linux-${arch}.tar.gz`;
}

/**
 * The launcher for `info`: exec glibc's bundled loader with Deno, the flags
 * the start task runs with, the bundle and every argument given.
 *
 * @param info The architecture.
 * @param runFlags The Deno flags between `run` and the program (see bundleRunFlags).
 */
export function launcherScript(
  info: ReleaseArchInfo,
  runFlags: readonly string[],
): string {
  for (const flag of runFlags) {
    if (!/^--[a-z0-9-]+(=[A-Za-z0-9_,=.-]+)?$/.test(flag)) {
      throw new TypeError(
        `Cannot write ${flag} into the launcher: a flag must need no quoting`,
      );
    }
  }
  return `#!/bin/sh
# rancher-desktop-guestagent (${info.arch}): runs the guest agent on the Deno
# and the glibc that ship beside it in ../${LIB_DIR}, whatever C library this
# system has (Alpine's musl included). glibc's own loader starts Deno with that
# folder as its library path, so the process maps that glibc and no other; no
# LD_LIBRARY_PATH, so the programs the agent runs keep the system's libraries.
# exec: the service manager's signals reach the agent, and its exit code is
# this script's.
self=$(readlink -f "$0" 2>/dev/null) || self=$0
lib=\${self%/*}/../${LIB_DIR}
# Deno would otherwise ask the internet for a newer Deno.
export DENO_NO_UPDATE_CHECK=1
exec "$lib/${info.loader}" --library-path "$lib" "$lib/deno" run \\
  ${runFlags.join(" ")} \\
  "$lib/bundle/main.js" "$@"
`;
}

/** One npm package the bundle carries, as its path comments name it. */
export interface BundledPackage {
  /** Its folder under node_modules/.deno (`name@version`, `/` as `+`). */
  readonly store: string;
  /** Its name (`@scope/name` or `name`). */
  readonly name: string;
}

/**
 * The npm packages a `deno bundle` output carries, from the path comments
 * esbuild writes before each module (`// node_modules/.deno/<store>/node_modules/<name>/…`).
 */
export function bundledPackages(bundle: string): BundledPackage[] {
  const found = new Map<string, BundledPackage>();
  const comment =
    /^\/\/ node_modules\/\.deno\/([^/\s]+)\/node_modules\/((?:@[^/\s]+\/)?[^/\s]+)\//gm;
  for (const [, store, name] of bundle.matchAll(comment)) {
    found.set(store!, { store: store!, name: name! });
  }
  return [...found.values()].sort((a, b) => a.store.localeCompare(b.store));
}
