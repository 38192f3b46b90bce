/**
 * Every download the release is made from, pinned by version and SHA-256,
 * like deno.lock pins the npm modules: a download whose bytes differ fails
 * the build. The test roots' packages are pinned here too, so the roots the
 * release is tested in are as repeatable as the release.
 *
 * To move to a new version: change it here, run `deno task release`, check
 * where the new bytes come from, then take the hash the failure prints.
 * Debian serves only the newest build of a stable release's package, so a
 * security update there makes the pinned download fail until this file
 * moves on (docs/install.md, "Building the release").
 *
 * @module
 */

/** The two architectures a release is built for, as Debian names them. */
export type ReleaseArch = "amd64" | "arm64";

/** One pinned download. */
export interface PinnedInput {
  /** Where it comes from: the npm registry (`npm pack`) or Debian (`apt-get download`). */
  readonly registry: "npm" | "debian";
  /** The package's name. */
  readonly name: string;
  /** Its exact version. */
  readonly version: string;
  /** The architecture it is built for; absent for an architecture-free package. */
  readonly arch?: ReleaseArch;
  /** What it is for: in the archive, or only in the roots the tests build. */
  readonly use: "release" | "test-root";
  /** SHA-256 of the downloaded file (the .tgz or the .deb), hex. */
  readonly sha256: string;
}

/** Deno's version: the one `.ci/run` and README run (a test checks). */
export const DENO_VERSION = "2.9.6";

const GLIBC = "2.36-9+deb12u14";
const GCC = "12.2.0-14+deb12u1";
const MUSL = "1.2.3-1";
const BUSYBOX = "1:1.35.0-4+deb12u1+b1";

/** The pinned inputs. */
export const PINNED_INPUTS: readonly PinnedInput[] = [
  // Deno's own builds; the wrapper package carries Deno's licence text.
  {
    registry: "npm",
    name: "deno",
    version: DENO_VERSION,
    use: "release",
    sha256: "d4c2483499454d33bcf4a45e984967ad0506b900de8e4f768e54c4738ded20ca",
  },
  {
    registry: "npm",
    name: "@deno/linux-x64-glibc",
    version: DENO_VERSION,
    arch: "amd64",
    use: "release",
    sha256: "a6596af07f3570b4f1ffa6783bfee9942aac14a719a601baa6bf5b71bf0105e2",
  },
  {
    registry: "npm",
    name: "@deno/linux-arm64-glibc",
    version: DENO_VERSION,
    arch: "arm64",
    use: "release",
    sha256: "8e32a9c72c84c14f91fde26efbef0b5f347286f3c68b4b7d4b8040ae9e6f42ec",
  },
  // glibc's loader and the libraries Deno links against.
  {
    registry: "debian",
    name: "libc6",
    version: GLIBC,
    arch: "amd64",
    use: "release",
    sha256: "ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf",
  },
  {
    registry: "debian",
    name: "libc6",
    version: GLIBC,
    arch: "arm64",
    use: "release",
    sha256: "01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4",
  },
  {
    registry: "debian",
    name: "libgcc-s1",
    version: GCC,
    arch: "amd64",
    use: "release",
    sha256: "3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7",
  },
  {
    registry: "debian",
    name: "libgcc-s1",
    version: GCC,
    arch: "arm64",
    use: "release",
    sha256: "576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3",
  },
  // libgcc-s1's copyright file lives in gcc-12-base (its doc folder links there).
  {
    registry: "debian",
    name: "gcc-12-base",
    version: GCC,
    arch: "amd64",
    use: "release",
    sha256: "1896a2aacf4ad681ff5eacc24a5b0ca4d5d9c9b9c9e4b6de5197bc1e116ea619",
  },
  {
    registry: "debian",
    name: "gcc-12-base",
    version: GCC,
    arch: "arm64",
    use: "release",
    sha256: "674cf6cba6d432bd200c45fe866c1652c7a53523cc2e7a613e05bc4abf7b5440",
  },
  // The Alpine-like test roots: musl's loader and a static busybox.
  {
    registry: "debian",
    name: "musl",
    version: MUSL,
    arch: "amd64",
    use: "test-root",
    sha256: "4fc1e3d9b579f5c682ca99a4d45aec08d72a2e6b82b4c2e1bbcb7095466ae96d",
  },
  {
    registry: "debian",
    name: "musl",
    version: MUSL,
    arch: "arm64",
    use: "test-root",
    sha256: "6ccf2bf0f479b00411cb8e1eeb048e648718170db5d63bbb4bf4a89350b81468",
  },
  {
    registry: "debian",
    name: "busybox-static",
    version: BUSYBOX,
    arch: "amd64",
    use: "test-root",
    sha256: "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
  },
  {
    registry: "debian",
    name: "busybox-static",
    version: BUSYBOX,
    arch: "arm64",
    use: "test-root",
    sha256: "732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5",
  },
];

/**
 * The pinned input named `name` for `arch` (or the architecture-free one).
 *
 * @throws {RangeError} When none is pinned.
 */
export function pinnedInput(name: string, arch?: ReleaseArch): PinnedInput {
  const found = PINNED_INPUTS.find((input) =>
    input.name === name && (input.arch === undefined || input.arch === arch)
  );
  if (!found) {
    throw new RangeError(
      `Cannot find input ${name}${
        arch ? ` for ${arch}` : ""
      }: build/release_inputs.ts pins none`,
    );
  }
  return found;
}
