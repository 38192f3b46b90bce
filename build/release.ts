/**
 * `deno task release`: for each architecture, a .tar.gz that carries the
 * agent with its own runtime (build/release_layout.ts says what and where),
 * from the pinned inputs (build/release_inputs.ts), into dist/release/ with
 * a SHA256SUMS beside the archives. The same inputs give the same bytes.
 *
 *   deno task release [outdir]
 *
 * Needs npm, apt-get (with the arm64 architecture added for arm64's
 * packages), dpkg-deb, GNU tar and gzip: a Debian build machine.
 *
 * @module
 */
import {
  PINNED_INPUTS,
  type PinnedInput,
  pinnedInput,
  type ReleaseArch,
} from "./release_inputs.ts";
import {
  archiveName,
  bundledPackages,
  DENO_LIBRARIES,
  FLAGS_SCRIPT_PATH,
  LAUNCHER_PATH,
  launcherScript,
  LIB_DIR,
  RELEASE_ARCHES,
  type ReleaseArchInfo,
  SERVICE_FILES_DIR,
} from "./release_layout.ts";
import {
  cachedFileName,
  downloadSpec,
  fetchPinnedInput,
  runIn,
  sha256Hex,
} from "./fetch_input.ts";
import { packReproducibly } from "./reproducible_tar.ts";
import { bundleArgs, bundleRunFlags } from "./tasks.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Options of {@linkcode buildRelease}. */
export interface ReleaseOptions {
  /** Where the archives and SHA256SUMS go. @default "dist/release" */
  readonly outDir?: string;
  /** Where downloads are kept between builds. @default "dist/cache" */
  readonly cacheDir?: string;
  /** The architectures to build. @default ["amd64", "arm64"] */
  readonly arches?: readonly ReleaseArch[];
  /** Every entry's time, seconds since 1970. @default $SOURCE_DATE_EPOCH or 0 */
  readonly epoch?: number;
}

/** One archive written. */
export interface ReleaseArchive {
  /** Its architecture. */
  readonly arch: ReleaseArch;
  /** Its path. */
  readonly path: string;
  /** Its SHA-256, hex. */
  readonly sha256: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** The size of the files it unpacks to, in bytes. */
  readonly unpackedBytes: number;
}

/** Unpacks inputs once per build, each into a folder of its own. */
class InputTree {
  #extracted = new Map<string, Promise<string>>();

  constructor(readonly cacheDir: string, readonly workDir: string) {}

  /** The folder `input`'s files are unpacked into. */
  unpacked(input: PinnedInput): Promise<string> {
    const name = cachedFileName(input);
    let folder = this.#extracted.get(name);
    if (!folder) {
      folder = this.#unpack(input, `${this.workDir}/inputs/${name}`);
      this.#extracted.set(name, folder);
    }
    return folder;
  }

  async #unpack(input: PinnedInput, into: string): Promise<string> {
    const archive = await fetchPinnedInput(input, this.cacheDir);
    await Deno.mkdir(into, { recursive: true });
    if (input.registry === "npm") {
      await runIn(into, "tar", ["-xzf", archive]);
    } else {
      await runIn(into, "dpkg-deb", ["-x", archive, "."]);
    }
    return into;
  }
}

async function copyInto(
  from: string,
  to: string,
  mode: number,
): Promise<void> {
  try {
    await Deno.copyFile(from, to);
  } catch (error) {
    throw new Error(
      `Cannot copy ${from} into the release: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  await Deno.chmod(to, mode);
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) {
      await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    } else {await copyInto(
        `${from}/${entry.name}`,
        `${to}/${entry.name}`,
        0o644,
      );}
  }
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    total += entry.isDirectory
      ? await treeBytes(path)
      : (await Deno.lstat(path)).size;
  }
  return total;
}

const LICENCE_FILE = /^(licen[cs]e|copying)(\.(md|txt))?$/i;

/** Copies the licence file of every npm package the bundle carries. */
async function copyBundleLicences(
  bundleDir: string,
  into: string,
): Promise<void> {
  const texts = [];
  for (const file of ["main.js", ...await workerFiles(bundleDir)]) {
    texts.push(await Deno.readTextFile(`${bundleDir}/${file}`));
  }
  await Deno.mkdir(into, { recursive: true });
  for (const pkg of bundledPackages(texts.join("\n"))) {
    const folder =
      `${ROOT}node_modules/.deno/${pkg.store}/node_modules/${pkg.name}`;
    let licence: string | undefined;
    for await (const entry of Deno.readDir(folder)) {
      if (entry.isFile && LICENCE_FILE.test(entry.name)) licence = entry.name;
    }
    if (!licence) {
      throw new Error(
        `Cannot ship ${pkg.store}: ${folder} has no licence file`,
      );
    }
    await copyInto(
      `${folder}/${licence}`,
      `${into}/${pkg.store}.${licence}`,
      0o644,
    );
  }
}

async function workerFiles(bundleDir: string): Promise<string[]> {
  const files = [];
  for await (const source of Deno.readDir(`${bundleDir}/sources`)) {
    files.push(`sources/${source.name}/worker.js`);
  }
  return files.sort();
}

/** The INPUTS file: what this archive was made from, hashes included. */
function inputsText(arch: ReleaseArch): string {
  return PINNED_INPUTS.filter((input) =>
    input.use === "release" && (input.arch ?? arch) === arch
  ).map((input) =>
    `${input.sha256}  ${input.registry} ${downloadSpec(input)}\n`
  )
    .join("");
}

/** Lays out one architecture's files in `stage`. */
async function stageArch(
  info: ReleaseArchInfo,
  stage: string,
  inputs: InputTree,
  bundleDir: string,
): Promise<void> {
  const lib = `${stage}/${LIB_DIR}`;
  for (
    const dir of ["bin", "libexec", SERVICE_FILES_DIR, `${LIB_DIR}/licenses`]
  ) {
    await Deno.mkdir(`${stage}/${dir}`, { recursive: true });
  }
  await Deno.writeTextFile(
    `${stage}/${LAUNCHER_PATH}`,
    launcherScript(info, bundleRunFlags()),
  );
  await Deno.chmod(`${stage}/${LAUNCHER_PATH}`, 0o755);
  const packaging = `${ROOT}packaging`;
  await copyInto(
    `${packaging}/guest-agent-flags`,
    `${stage}/${FLAGS_SCRIPT_PATH}`,
    0o755,
  );
  for (const file of ["openrc", "confd", "service"]) {
    const name = `rancher-desktop-guestagent.${file}`;
    await copyInto(
      `${packaging}/${name}`,
      `${stage}/${SERVICE_FILES_DIR}/${name}`,
      file === "openrc" ? 0o755 : 0o644,
    );
  }

  const deno = await inputs.unpacked(pinnedInput(info.denoPackage, info.arch));
  await copyInto(`${deno}/package/deno`, `${lib}/deno`, 0o755);
  const libc6 = await inputs.unpacked(pinnedInput("libc6", info.arch));
  await copyInto(
    `${libc6}/lib/${info.multiarch}/${info.loader}`,
    `${lib}/${info.loader}`,
    0o755,
  );
  for (const { file, debian } of DENO_LIBRARIES) {
    const from = await inputs.unpacked(pinnedInput(debian, info.arch));
    await copyInto(
      `${from}/lib/${info.multiarch}/${file}`,
      `${lib}/${file}`,
      0o644,
    );
  }
  await copyTree(bundleDir, `${lib}/bundle`);

  const licences = `${lib}/licenses`;
  const wrapper = await inputs.unpacked(pinnedInput("deno"));
  await copyInto(
    `${wrapper}/package/LICENSE`,
    `${licences}/deno.LICENSE`,
    0o644,
  );
  await copyInto(
    `${libc6}/usr/share/doc/libc6/copyright`,
    `${licences}/glibc.copyright`,
    0o644,
  );
  const gccBase = await inputs.unpacked(pinnedInput("gcc-12-base", info.arch));
  await copyInto(
    `${gccBase}/usr/share/doc/gcc-12-base/copyright`,
    `${licences}/libgcc.copyright`,
    0o644,
  );
  await copyBundleLicences(bundleDir, `${licences}/npm`);
  await Deno.writeTextFile(`${lib}/INPUTS`, inputsText(info.arch));
}

/** Bundles main.ts and every worker into `dir` with `deno bundle`. */
async function bundle(dir: string): Promise<void> {
  await runIn(ROOT, Deno.execPath(), bundleArgs(dir));
}

/**
 * Builds the release archives and their SHA256SUMS.
 *
 * @returns One entry per archive, in the order of `arches`.
 * @throws {Error} When a tool is missing, a download fails or its hash differs from its pin.
 */
export async function buildRelease(
  options: ReleaseOptions = {},
): Promise<ReleaseArchive[]> {
  const outDir = options.outDir ?? `${ROOT}dist/release`;
  const cacheDir = options.cacheDir ?? `${ROOT}dist/cache`;
  const epoch = options.epoch ?? Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? 0);
  const work = await Deno.makeTempDir({ prefix: "garelease" });
  try {
    await bundle(`${work}/bundle`);
    const inputs = new InputTree(cacheDir, work);
    await Deno.mkdir(outDir, { recursive: true });
    const archives: ReleaseArchive[] = [];
    for (const arch of options.arches ?? ["amd64", "arm64"] as const) {
      const stage = `${work}/stage-${arch}`;
      await stageArch(RELEASE_ARCHES[arch], stage, inputs, `${work}/bundle`);
      const path = `${outDir}/${archiveName(arch)}`;
      await packReproducibly(stage, path, { epoch });
      const bytes = await Deno.readFile(path);
      archives.push({
        arch,
        path,
        sha256: await sha256Hex(bytes),
        bytes: bytes.length,
        unpackedBytes: await treeBytes(stage),
      });
    }
    await Deno.writeTextFile(
      `${outDir}/SHA256SUMS`,
      archives.map((a) => `${a.sha256}  ${archiveName(a.arch)}\n`).join(""),
    );
    return archives;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

const MIB = 1024 * 1024;

if (import.meta.main) {
  const outDir = Deno.args[0];
  try {
    const archives = await buildRelease(outDir ? { outDir } : {});
    for (const archive of archives) {
      // deno-lint-ignore no-console -- the build's report
      console.log(
        `${archive.path}: ${(archive.bytes / MIB).toFixed(1)} MiB, ${
          (archive.unpackedBytes / MIB).toFixed(1)
        } MiB unpacked, sha256 ${archive.sha256}`,
      );
    }
  } catch (error) {
    // deno-lint-ignore no-console -- the build's report
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(1);
  }
}
