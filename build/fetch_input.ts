/**
 * Fetches a pinned input (build/release_inputs.ts) into a cache folder and
 * checks its SHA-256: npm packages through `npm pack`, Debian packages
 * through `apt-get download`, so the machine's own registry settings apply
 * and no address is written here. A cached file is used again only while its
 * hash still matches.
 *
 * @module
 */
import type { PinnedInput } from "./release_inputs.ts";

/** Runs `program` in `cwd`; resolves with its stdout, rejects with its stderr. */
export async function runIn(
  cwd: string,
  program: string,
  args: readonly string[],
): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, {
      args: [...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(
      `Cannot run ${program}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `Cannot run ${program} ${args.join(" ")}: exit ${output.code}: ${
        decoder.decode(output.stderr).trim()
      }`,
    );
  }
  return decoder.decode(output.stdout);
}

/** The SHA-256 of `bytes`, hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** The name an input is cached under: its name, version and arch, made file-safe. */
export function cachedFileName(input: PinnedInput): string {
  const base = `${input.name}_${input.version}${
    input.arch ? `_${input.arch}` : ""
  }`
    .replace(/[^A-Za-z0-9._+-]/g, "_");
  return `${base}.${input.registry === "npm" ? "tgz" : "deb"}`;
}

/** What names `input` for its registry's client (`name@version`, `name:arch=version`). */
export function downloadSpec(input: PinnedInput): string {
  return input.registry === "npm"
    ? `${input.name}@${input.version}`
    : `${input.name}:${input.arch}=${input.version}`;
}

/**
 * Throws unless `bytes` hash to what `input` pins.
 *
 * @throws {Error} Naming both hashes: a changed download fails the build.
 */
export async function checkPinnedHash(
  input: PinnedInput,
  bytes: Uint8Array,
): Promise<void> {
  const actual = await sha256Hex(bytes);
  if (actual !== input.sha256) {
    throw new Error(
      `Cannot use ${
        downloadSpec(input)
      }: its SHA-256 is ${actual}, build/release_inputs.ts pins ${input.sha256}`,
    );
  }
}

async function download(input: PinnedInput, into: string): Promise<string> {
  const spec = downloadSpec(input);
  if (input.registry === "npm") {
    await runIn(into, "npm", ["pack", "--silent", spec]);
  } else {
    // As root, apt's sandbox user cannot write here; the download is checked by hash.
    const sandbox = Deno.uid() === 0 ? ["-o", "APT::Sandbox::User=root"] : [];
    await runIn(into, "apt-get", ["download", "-q", ...sandbox, spec]);
  }
  const files = [];
  for await (const entry of Deno.readDir(into)) {
    if (entry.isFile) files.push(entry.name);
  }
  if (files.length !== 1) {
    throw new Error(
      `Cannot download ${spec}: expected one file, found ${files.length}`,
    );
  }
  return `${into}/${files[0]}`;
}

/**
 * The path of `input` in `cacheDir`, downloaded when missing or changed,
 * its hash checked either way.
 *
 * @throws {Error} When the download fails or its hash differs from the pin.
 */
export async function fetchPinnedInput(
  input: PinnedInput,
  cacheDir: string,
): Promise<string> {
  const path = `${cacheDir}/${cachedFileName(input)}`;
  try {
    await checkPinnedHash(input, await Deno.readFile(path));
    return path;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) await Deno.remove(path);
  }
  await Deno.mkdir(cacheDir, { recursive: true });
  const scratch = await Deno.makeTempDir({ dir: cacheDir, prefix: ".fetch" });
  try {
    const downloaded = await download(input, scratch);
    await checkPinnedHash(input, await Deno.readFile(downloaded));
    await Deno.rename(downloaded, path);
    return path;
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}
