import { assertEquals } from "../../tests/assert.ts";
import { KeyedChain } from "./keyed_chain.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  return { promise, resolve };
}

Deno.test("KeyedChain keeps one key's order and runs keys concurrently", async () => {
  const chain = new KeyedChain();
  const log: string[] = [];
  const gateA = deferred();
  chain.run("a", async () => {
    await gateA.promise;
    log.push("a1");
  });
  chain.run("a", () => {
    log.push("a2");
    return Promise.resolve();
  });
  chain.run("b", () => {
    log.push("b1");
    return Promise.resolve();
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(log, ["b1"]); // b did not wait for a
  assertEquals(chain.pending, 1);
  gateA.resolve();
  await chain.settled();
  assertEquals(log, ["b1", "a1", "a2"]);
  assertEquals(chain.pending, 0);
});

Deno.test("KeyedChain goes on after a task rejects", async () => {
  const chain = new KeyedChain();
  const log: string[] = [];
  chain.run("a", () => Promise.reject(new Error("boom")));
  chain.run("a", () => {
    log.push("after");
    return Promise.resolve();
  });
  await chain.settled();
  assertEquals(log, ["after"]);
});
