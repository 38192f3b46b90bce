/**
 * What C libraries a running process has mapped, read from its
 * /proc/PID/maps: the tests that prove one process maps one libc.
 *
 * @module
 */

/** The distinct files named like a libc or musl's loader in `pid`'s map, sorted. */
export async function mappedCLibraries(pid: number): Promise<string[]> {
  const maps = await Deno.readTextFile(`/proc/${pid}/maps`);
  const files = maps.split("\n")
    .map((line) => line.split(/\s+/).slice(5).join(" "))
    .filter((path) =>
      /\/(libc\.so\.6|ld-musl-[^/]*|libc\.musl[^/]*)( \(deleted\))?$/.test(path)
    );
  return [...new Set(files)].sort();
}
