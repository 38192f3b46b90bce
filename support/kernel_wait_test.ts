import { assertEquals } from "../tests/assert.ts";
import { KernelWait } from "./kernel_wait.ts";
import { findLibcPath, Libc } from "./libc.ts";

/** A second eventfd stands in for a kernel event source: same poll path. */
function eventSource(libc: Libc) {
  const fd = libc.symbols.eventfd(0, 0o4000);
  return {
    fd,
    fire: () =>
      libc.symbols.write(fd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), 8n),
    drain: () => libc.symbols.read(fd, new Uint8Array(8), 8n),
    close: () => libc.closeFd(fd),
  };
}

Deno.test("KernelWait: an event, a timeout, and a stop that ends an endless wait", async () => {
  const libc = new Libc(findLibcPath()!);
  const controller = new AbortController();
  const wait = new KernelWait(libc, controller.signal);
  const source = eventSource(libc);
  try {
    source.fire();
    assertEquals(await wait.wait([source.fd], -1), {
      kind: "ready",
      ready: [0],
      failed: [],
    });
    source.drain();
    assertEquals(await wait.wait([source.fd], 10), { kind: "timeout" });
    // Nothing will happen: only the abort can end this wait.
    const endless = wait.wait([source.fd], -1);
    setTimeout(() => controller.abort(), 20);
    assertEquals(await endless, { kind: "stopped" });
    assertEquals(await wait.wait([source.fd], -1), { kind: "stopped" });
  } finally {
    wait.close();
    source.close();
    libc.close();
  }
});
