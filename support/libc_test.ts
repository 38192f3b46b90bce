import { assert, assertEquals, assertThrows } from "../tests/assert.ts";
import { findLibcPath, Libc } from "./libc.ts";

Deno.test("findLibcPath() finds this machine's libc", () => {
  const path = findLibcPath();
  assert(path !== undefined && path.startsWith("/"), `found ${path}`);
  assertEquals(findLibcPath(() => false), undefined);
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
