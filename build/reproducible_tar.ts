/**
 * Packs a folder into a .tar.gz whose bytes depend only on the files' names,
 * contents and modes: entries sorted by name, one fixed time, owner and group
 * root (0), no extended attributes, ustar format (busybox tar unpacks it),
 * gzip without a name or time in its header. GNU tar and gzip do the work.
 *
 * @module
 */
import { runIn } from "./fetch_input.ts";

/** Options of {@linkcode packReproducibly}. */
export interface PackOptions {
  /** The time every entry gets, in seconds since 1970. @default 0 */
  readonly epoch?: number;
}

/** Sets every folder under `dir` (and `dir`) to 0755: umask leaves no trace. */
async function normaliseFolderModes(dir: string): Promise<void> {
  await Deno.chmod(dir, 0o755);
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) await normaliseFolderModes(`${dir}/${entry.name}`);
  }
}

/**
 * Writes `output` (.tar.gz) from the top-level entries of `dir`, so that
 * unpacking it into a folder adds those entries and touches nothing else.
 *
 * @param dir The folder whose contents become the archive's.
 * @param output The archive's path.
 */
export async function packReproducibly(
  dir: string,
  output: string,
  options: PackOptions = {},
): Promise<void> {
  const epoch = options.epoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new RangeError(
      `Cannot pack with time ${epoch}: not seconds since 1970`,
    );
  }
  await normaliseFolderModes(dir);
  const top: string[] = [];
  for await (const entry of Deno.readDir(dir)) top.push(entry.name);
  if (top.length === 0) throw new Error(`Cannot pack ${dir}: it is empty`);
  await runIn(dir, "tar", [
    "--create",
    "--file",
    output,
    "--use-compress-program",
    "gzip -n -6",
    "--format=ustar",
    "--sort=name",
    `--mtime=@${epoch}`,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--no-acls",
    "--no-xattrs",
    "--no-selinux",
    "--",
    ...top.sort(),
  ]);
}
