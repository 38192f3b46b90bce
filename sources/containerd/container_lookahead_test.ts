import { assertEquals } from "../../tests/assert.ts";
import { ContainerLookahead } from "./container_lookahead.ts";
import type { ContainerRecord } from "./parse_event.ts";

function recordingFetch(fail = new Set<number>()) {
  const calls: string[] = [];
  const fetch = (namespace: string, id: string) => {
    calls.push(`${namespace}/${id}`);
    if (fail.has(calls.length)) return Promise.reject(new Error("down"));
    return Promise.resolve<ContainerRecord>({
      id,
      labels: { n: String(calls.length) },
    });
  };
  return { calls, fetch };
}

Deno.test("ContainerLookahead uses the read made on create", async () => {
  const { calls, fetch } = recordingFetch();
  const lookahead = new ContainerLookahead(fetch);
  lookahead.readAhead("ga", "web");
  assertEquals(await lookahead.take("ga", "web"), {
    id: "web",
    labels: { n: "1" },
  });
  assertEquals(calls, ["ga/web"]);
  assertEquals(lookahead.size, 0);
  // A second start (restart) reads again.
  assertEquals((await lookahead.take("ga", "web"))?.labels.n, "2");
});

Deno.test("ContainerLookahead reads again after forget()", async () => {
  const { calls, fetch } = recordingFetch();
  const lookahead = new ContainerLookahead(fetch);
  lookahead.readAhead("ga", "a");
  lookahead.forget("ga", "a"); // a label update came in between
  assertEquals((await lookahead.take("ga", "a"))?.labels.n, "2");
  assertEquals(calls.length, 2);
});

Deno.test("ContainerLookahead reads again when the read ahead failed", async () => {
  const { calls, fetch } = recordingFetch(new Set([1]));
  const lookahead = new ContainerLookahead(fetch);
  lookahead.readAhead("ga", "a");
  assertEquals((await lookahead.take("ga", "a"))?.labels.n, "2");
  assertEquals(calls.length, 2);
});

Deno.test("ContainerLookahead keeps at most `capacity` reads", () => {
  const { fetch } = recordingFetch();
  const lookahead = new ContainerLookahead(fetch, { capacity: 2 });
  for (const id of ["a", "b", "c"]) lookahead.readAhead("ga", id);
  assertEquals(lookahead.size, 2);
});
