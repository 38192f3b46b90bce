import { assertEquals, assertStringIncludes } from "../../../tests/assert.ts";
import {
  describeTracefsOutcome,
  mountTracefs,
  type TracefsMachine,
} from "./mount_tracefs.ts";

/** A machine with the paths in `present`; `mount` adds tracefs's files. */
function machine(
  present: string[],
  options: { root?: boolean; mountCode?: number; mountThrows?: boolean } = {},
) {
  const paths = new Set(present);
  const mounts: string[][] = [];
  const fake: TracefsMachine = {
    isRoot: () => options.root ?? true,
    exists: (path) => Promise.resolve(paths.has(path)),
    mount: (args) => {
      mounts.push([...args]);
      if (options.mountThrows) return Promise.reject(new Error("no mount"));
      const code = options.mountCode ?? 0;
      if (code === 0) paths.add(`${args.at(-1)}/events/header_page`);
      return Promise.resolve({
        code,
        stderr: code === 0 ? "" : "mount: permission denied\n",
      });
    },
  };
  return { fake, mounts };
}

Deno.test("mountTracefs() mounts at /sys/kernel/tracing only when wanted, root, and none is mounted", async () => {
  const fresh = machine(["/sys/kernel/tracing"]);
  assertEquals(await mountTracefs(true, fresh.fake), {
    kind: "mounted",
    root: "/sys/kernel/tracing",
  });
  assertEquals(fresh.mounts, [[
    "-t",
    "tracefs",
    "nodev",
    "/sys/kernel/tracing",
  ]]);

  const off = machine(["/sys/kernel/tracing"]);
  assertEquals(await mountTracefs(false, off.fake), { kind: "not wanted" });
  assertEquals(off.mounts, [], "--no-procnet-events mounts nothing");

  const debug = machine(["/sys/kernel/debug/tracing/events/header_page"]);
  assertEquals(await mountTracefs(true, debug.fake), {
    kind: "mounted already",
    root: "/sys/kernel/debug/tracing",
  });
  assertEquals(debug.mounts, []);
});

Deno.test("mountTracefs() says why it cannot", async () => {
  const cases: [string, ReturnType<typeof machine>, string][] = [
    [
      "not root",
      machine(["/sys/kernel/tracing"], { root: false }),
      "only root",
    ],
    ["no mount point", machine([]), "/sys/kernel/tracing does not exist"],
    [
      "mount fails",
      machine(["/sys/kernel/tracing"], { mountCode: 32 }),
      "mount -t tracefs exited 32: mount: permission denied",
    ],
    [
      "no mount program",
      machine(["/sys/kernel/tracing"], { mountThrows: true }),
      "cannot run mount: no mount",
    ],
  ];
  for (const [what, { fake }, reason] of cases) {
    const outcome = await mountTracefs(true, fake);
    assertEquals(outcome.kind, "cannot", what);
    if (outcome.kind === "cannot") assertStringIncludes(outcome.reason, reason);
    const line = describeTracefsOutcome(outcome);
    assertEquals(line?.level, "warn");
    assertStringIncludes(line?.message ?? "", "Cannot mount tracefs");
  }
  assertEquals(describeTracefsOutcome({ kind: "not wanted" }), undefined);
});
