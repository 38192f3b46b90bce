/**
 * The Kubernetes watcher against the FAKE API server of tests/ (no real
 * one runs here), without a worker: paging, expired continue tokens,
 * refused credentials, a server that ends every watch at once.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { FakeKubeApi, fakeService } from "../../tests/fake_kube_api.ts";
import { waitFor } from "../../tests/wait.ts";
import { type Clock, FakeClock } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { watchKubernetes } from "./watch_kubernetes.ts";

async function watching(
  api: FakeKubeApi,
  test: (messages: SourceMessageBody[]) => Promise<void>,
  options: { token?: string; pageSize?: number; clock?: Clock } = {},
): Promise<void> {
  const messages: SourceMessageBody[] = [];
  const stop = new AbortController();
  const done = watchKubernetes(
    {
      connection: {
        server: `http://127.0.0.1:${api.port}`,
        token: options.token ?? "fake-token",
      },
      listenAddress: "0.0.0.0",
      pageSize: options.pageSize ?? 500,
    },
    (message) => messages.push(message),
    stop.signal,
    options.clock ? { clock: options.clock } : {},
  );
  try {
    await test(messages);
  } finally {
    stop.abort();
    await done;
    await api.stop();
  }
}

const snapshots = (messages: SourceMessageBody[]) =>
  messages.flatMap((m) => m.type === "snapshot" ? [m] : []);

Deno.test("watchKubernetes() lists in pages and sends one snapshot of them all", async () => {
  const api = new FakeKubeApi();
  await api.start();
  for (let i = 0; i < 7; i++) {
    api.apply(
      fakeService(`p${i}`, "NodePort", [{ port: 1, nodePort: 30100 + i }]),
    );
  }
  await watching(api, async (messages) => {
    await waitFor(() => snapshots(messages).length === 1);
    assertEquals(snapshots(messages)[0]!.entries.length, 7);
    const lists = api.requests.filter((r) => !r.includes("watch=true"));
    assertEquals(lists.length, 3, lists.join(" "));
    assert(lists.every((r) => r.includes("limit=3")), lists.join(" "));
  }, { pageSize: 3 });
});

Deno.test("watchKubernetes() lists again when a continue token expires mid-list", async () => {
  const api = new FakeKubeApi();
  await api.start();
  for (let i = 0; i < 5; i++) {
    api.apply(
      fakeService(`c${i}`, "NodePort", [{ port: 1, nodePort: 30200 + i }]),
    );
  }
  let expired = false;
  api.onRequest = (request) => {
    if (request.includes("continue=") && !expired) {
      expired = true;
      api.apply(fakeService("c5", "NodePort", [{ port: 1, nodePort: 30205 }]));
      api.compact();
    }
  };
  await watching(api, async (messages) => {
    await waitFor(() => snapshots(messages).length === 1);
    assertEquals(
      snapshots(messages)[0]!.entries.length,
      6,
      "the second list has c5",
    );
    assert(expired);
  }, { pageSize: 2 });
});

Deno.test("watchKubernetes() reports refused credentials as waiting, with the status", async () => {
  const api = new FakeKubeApi();
  await api.start();
  await watching(api, async (messages) => {
    await waitFor(() => messages.some((m) => m.type === "status"));
    const status = messages.find((m) => m.type === "status");
    assertEquals(status?.type === "status" && status.state, "waiting");
    const reason = status?.type === "status" ? status.reason ?? "" : "";
    assert(reason.includes("401") && reason.includes("Unauthorized"), reason);
    assertEquals(snapshots(messages).length, 0);
  }, { token: "wrong" });
});

Deno.test("watchKubernetes() backs off when the server ends every watch at once", async () => {
  const api = new FakeKubeApi();
  await api.start();
  api.endWatchesAtOnce = true;
  // The server is real (in this process); the backoff waits on a fake clock.
  const clock = new FakeClock();
  const watches = () =>
    api.requests.filter((r) => r.includes("watch=true")).length;
  await watching(api, async (messages) => {
    await waitFor(() => watches() === 1 && clock.pending === 1);
    // First wait: 250 ms less up to 20 % jitter, so 200 to 250 ms.
    await clock.advance(199);
    assertEquals(watches(), 1, "not before the backoff");
    await clock.advance(51);
    await waitFor(() => watches() === 2 && clock.pending === 1);
    // Second wait: doubled, 400 to 500 ms from when the first timer ran
    // (fake time 200 to 250): due between 600 and 750.
    await clock.advance(349);
    assertEquals(watches(), 2, "the backoff grows");
    await clock.advance(151);
    await waitFor(() => watches() === 3);
    assertEquals(
      messages.flatMap((m) => m.type === "status" ? [m.state] : []),
      ["connected"],
      "the server answers: connected",
    );
    assertEquals(
      snapshots(messages).length,
      1,
      "the version is kept: no relist",
    );
  }, { clock });
});
