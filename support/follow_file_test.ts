import { assertEquals } from "../tests/assert.ts";
import { waitFor } from "../tests/wait.ts";
import { type FileState, followFile } from "./follow_file.ts";

Deno.test("followFile() reports a file created in a folder made later, its rewrites and removal", async () => {
  const root = await Deno.makeTempDir();
  const path = `${root}/rancher/k3s/k3s.yaml`;
  const states: FileState[] = [];
  const controller = new AbortController();
  const done = followFile(
    path,
    (state) => states.push(state),
    controller.signal,
    20,
  );
  try {
    await waitFor(() => states.length === 1);
    assertEquals(states, [{ kind: "missing" }]);
    await Deno.mkdir(`${root}/rancher/k3s`, { recursive: true });
    await Deno.writeTextFile(path, "one");
    await waitFor(
      () => states.length === 2,
      5_000,
      () => JSON.stringify(states),
    );
    // Rewritten by rename, as k3s does.
    await Deno.writeTextFile(`${path}.tmp`, "two");
    await Deno.rename(`${path}.tmp`, path);
    await waitFor(
      () => states.length === 3,
      5_000,
      () => JSON.stringify(states),
    );
    await Deno.writeTextFile(path, "two"); // same content: nothing
    await Deno.remove(path);
    await waitFor(
      () => states.length === 4,
      5_000,
      () => JSON.stringify(states),
    );
    assertEquals(states, [
      { kind: "missing" },
      { kind: "content", text: "one" },
      { kind: "content", text: "two" },
      { kind: "missing" },
    ]);
  } finally {
    controller.abort();
    await done;
    await Deno.remove(root, { recursive: true });
  }
});
