import { assertEquals } from "../../tests/assert.ts";
import { FakeClock } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker_runtime.ts";
import { watchProcNet } from "./watch_proc_net.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

function table(...ports: number[]): string {
  return [
    HEADER,
    ...ports.map((port, i) =>
      `${i}: 00000000:${
        port.toString(16).padStart(4, "0")
      } 00000000:0000 0A 0:0 0:0 0 0 0 ${i}`
    ),
  ].join("\n");
}

Deno.test("watchProcNet() publishes after two scans and removes at once", async () => {
  const clock = new FakeClock();
  const files = new Map<string, string>([["/p/tcp", table(22, 8080)]]);
  const messages: SourceMessageBody[] = [];
  const controller = new AbortController();
  const readFile = (path: string) => {
    const text = files.get(path);
    return text === undefined
      ? Promise.reject(new Deno.errors.NotFound(path))
      : Promise.resolve(text);
  };
  const done = watchProcNet(
    { root: "/p", intervalMs: 1000, ignorePorts: [22] },
    (message) => messages.push(message),
    controller.signal,
    { readFile, clock },
  );
  const snapshots = () =>
    messages.filter((m) => m.type === "snapshot").map((m) =>
      m.type === "snapshot" ? m.entries.map((e) => e.ownerId) : []
    );
  await clock.advance(0);
  assertEquals(messages[0], { type: "status", state: "connected" });
  assertEquals(snapshots(), [[]]);
  await clock.advance(1000);
  assertEquals(snapshots(), [[], ["tcp/0.0.0.0:8080"]]);
  files.set("/p/tcp", table(8080, 9090)); // 9090 appears: not yet
  await clock.advance(1000);
  assertEquals(snapshots().length, 2);
  files.set("/p/tcp", table(8080)); // 9090 was a reservation socket
  await clock.advance(1000);
  assertEquals(snapshots().length, 2);
  files.set("/p/tcp", table()); // removal is immediate
  await clock.advance(1000);
  assertEquals(snapshots().at(-1), []);
  files.delete("/p/tcp");
  await clock.advance(1000);
  assertEquals(messages.at(-1)?.type, "status");
  controller.abort();
  await clock.advance(1000);
  await done;
});
