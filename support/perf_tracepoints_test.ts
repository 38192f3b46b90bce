import { assertEquals, assertThrows } from "../tests/assert.ts";
import { findLibcPath, Libc } from "./libc.ts";
import {
  findTracefs,
  openTracepoint,
  parseCpuList,
  PERF_ATTR_SIZE,
  tracepointAttr,
  TracepointUnavailable,
} from "./perf_tracepoints.ts";

Deno.test("tracepointAttr() writes a disabled, sampled tracepoint that wakes on each hit", () => {
  const attr = tracepointAttr(2287);
  const view = new DataView(attr.buffer);
  assertEquals(attr.length, PERF_ATTR_SIZE);
  assertEquals(view.getUint32(0, true), 2); // PERF_TYPE_TRACEPOINT
  assertEquals(view.getUint32(4, true), 128);
  assertEquals(view.getBigUint64(8, true), 2287n);
  assertEquals(view.getBigUint64(16, true), 1n);
  assertEquals(view.getBigUint64(40, true), 1n); // disabled
  assertEquals(view.getUint32(48, true), 1); // wakeup_events
  assertEquals(attr.subarray(52).every((byte) => byte === 0), true);
});

Deno.test("parseCpuList() reads sysfs CPU lists and refuses others", () => {
  assertEquals(parseCpuList("0-1\n"), [0, 1]);
  assertEquals(parseCpuList("0"), [0]);
  assertEquals(parseCpuList("0-2,5,7-8"), [0, 1, 2, 5, 7, 8]);
  for (const bad of ["", "a", "3-1", "0-", "0,,1", "0-99999", "-1"]) {
    assertThrows(
      () => parseCpuList(bad),
      TypeError,
      "Cannot read the CPU list",
    );
  }
});

Deno.test("findTracefs() and openTracepoint() say why when tracefs lacks the tracepoint", () => {
  const libc = new Libc(findLibcPath()!);
  const root = Deno.makeTempDirSync();
  try {
    assertEquals(findTracefs(libc, [root]), undefined);
    Deno.mkdirSync(`${root}/events/sock/bad`, { recursive: true });
    Deno.writeTextFileSync(`${root}/events/header_page`, "field: u64\n");
    Deno.writeTextFileSync(`${root}/events/sock/bad/id`, "not a number\n");
    assertEquals(findTracefs(libc, ["/nonexistent", root]), root);
    assertThrows(
      () => openTracepoint(libc, root, { name: "sock/absent", filter: "" }),
      TracepointUnavailable,
      `this kernel has no tracepoint sock/absent (${root}/events/sock/absent/id)`,
    );
    assertThrows(
      () => openTracepoint(libc, root, { name: "sock/bad", filter: "" }),
      TracepointUnavailable,
      `${root}/events/sock/bad/id holds "not a number\\n"`,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
    libc.close();
  }
});
