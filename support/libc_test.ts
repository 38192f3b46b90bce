import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import { findLibcPath, Libc, libcFromMaps } from "./libc.ts";

/** A maps line for `path` (the fields before it as the kernel writes them). */
const mapped = (path: string, inode = 1234) =>
  `7f0000000000-7f0000001000 r-xp 00000000 fe:00 ${inode}                     ${path}`;

Deno.test("libcFromMaps() names the one libc file a process maps", async (t) => {
  await t.step("Debian's glibc among Deno's other libraries", () => {
    const maps = [
      mapped("/usr/bin/deno"),
      mapped("/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"),
      mapped("/usr/lib/x86_64-linux-gnu/libc.so.6"),
      mapped("/usr/lib/x86_64-linux-gnu/libc.so.6"),
      mapped("/usr/lib/x86_64-linux-gnu/libm.so.6"),
      mapped("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
      "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]",
    ].join("\n");
    assertEquals(libcFromMaps(maps), "/usr/lib/x86_64-linux-gnu/libc.so.6");
  });
  await t.step(
    "a release's bundled glibc, a path with a space, old glibc, musl",
    () => {
      const bundled = "/usr/local/lib/guest-agent/libc.so.6";
      assertEquals(libcFromMaps(mapped(bundled)), bundled);
      assertEquals(
        libcFromMaps(mapped("/opt/my dir/libc.so.6")),
        "/opt/my dir/libc.so.6",
      );
      assertEquals(
        libcFromMaps(mapped("/lib64/libc-2.17.so")),
        "/lib64/libc-2.17.so",
      );
      assertEquals(
        libcFromMaps(mapped("/lib/ld-musl-x86_64.so.1")),
        "/lib/ld-musl-x86_64.so.1",
      );
      assertEquals(
        libcFromMaps(mapped("/lib/ld-musl-aarch64.so.1")),
        "/lib/ld-musl-aarch64.so.1",
      );
    },
  );
  await t.step(
    "none when no libc, two different ones, or a deleted one",
    () => {
      assertEquals(libcFromMaps(""), undefined);
      assertEquals(libcFromMaps(mapped("/usr/lib/libcrypto.so.3")), undefined);
      assertEquals(libcFromMaps(mapped("/usr/lib/libc.so.6.bak")), undefined);
      // Two libcs in one process is the fault this prevents: pick neither.
      assertEquals(
        libcFromMaps(
          [
            mapped("/lib/x86_64-linux-gnu/libc.so.6"),
            mapped("/lib/ld-musl-x86_64.so.1"),
          ]
            .join("\n"),
        ),
        undefined,
      );
      // Replaced on disk since it was mapped: opening the path loads the new file.
      assertEquals(
        libcFromMaps(mapped("/lib/x86_64-linux-gnu/libc.so.6 (deleted)")),
        undefined,
      );
    },
  );
  await t.step("hostile text: garbage, relative paths, pseudo-files", () => {
    const hostile = [
      "libc.so.6",
      "x y z w v libc.so.6",
      "7f00-7f01 r-xp 0 fe:00 notanumber /lib/libc.so.6",
      mapped("relative/libc.so.6"),
      "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [heap]",
      "\0\n\r\n".repeat(100),
      "a".repeat(100_000),
    ].join("\n");
    assertEquals(libcFromMaps(hostile), undefined);
    assertEquals(
      libcFromMaps(`${hostile}\n${mapped("/lib/libc.so.6")}`),
      "/lib/libc.so.6",
    );
  });
});

Deno.test("findLibcPath() finds the libc this process maps, and nothing when the map cannot be read", async () => {
  const path = findLibcPath();
  assert(path !== undefined && path.startsWith("/"), `found ${path}`);
  const maps = await Deno.readTextFile("/proc/self/maps");
  assert(maps.includes(` ${path}\n`), `${path} is not in /proc/self/maps`);
  assertEquals(findLibcPath(() => ""), undefined);
  assertEquals(
    findLibcPath(() => {
      throw new Deno.errors.NotCapable("Requires read access");
    }),
    undefined,
  );
});
Deno.test("Libc.readFile() reads /proc/net/tcp, which Deno's own read refuses", async () => {
  const libc = new Libc(findLibcPath()!);
  try {
    const text = new TextDecoder().decode(libc.readFile("/proc/net/tcp"));
    assert(text.includes("local_address"), text.slice(0, 100));
    const temp = await Deno.makeTempFile();
    await Deno.writeTextFile(temp, "x".repeat(200_000));
    assertEquals(libc.readFile(temp).length, 200_000);
    assertThrows(() => libc.readFile(temp, 1000), RangeError, "larger than");
    await Deno.remove(temp);
    assertThrows(
      () => libc.readFile("/nonexistent/file"),
      Deno.errors.NotFound,
      "No such file",
    );
    assertThrows(
      () => libc.readFile("/proc/self/task/../nonexistent"),
      Deno.errors.NotFound,
    );
  } finally {
    libc.close();
  }
});
