/**
 * The containerd watcher against an in-process containerd (tests/
 * fake_containerd.ts: a real gRPC server on a unix socket, our reading of
 * the API). The real containerd is tests/containerd_e2e_test.ts; this file
 * covers what it cannot make happen on demand: a broken event stream, a
 * hostile envelope, a server that is not serving yet.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import { waitFor } from "../../tests/wait.ts";
import { FakeContainerd } from "../../tests/fake_containerd.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { setSourceLogSink } from "../source_log.ts";
import { PORTS_LABEL } from "./nerdctl_ports.ts";
import { watchContainerd } from "./watch_containerd.ts";

/** nerdctl's ports label for one TCP port on every IPv4 address. */
function ports(hostPort: number, containerPort = 80): Record<string, string> {
  return {
    [PORTS_LABEL]: JSON.stringify([
      {
        HostPort: hostPort,
        ContainerPort: containerPort,
        Protocol: "tcp",
        HostIP: "0.0.0.0",
      },
    ]),
  };
}

interface Watching {
  readonly containerd: FakeContainerd;
  readonly messages: SourceMessageBody[];
  readonly logged: string[];
}

async function watching(
  test: (w: Watching) => Promise<void>,
  prepare: (containerd: FakeContainerd) => void = () => {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const containerd = await FakeContainerd.start(`${dir}/containerd.sock`);
  prepare(containerd);
  const messages: SourceMessageBody[] = [];
  const logged: string[] = [];
  setSourceLogSink((level, _source, message, properties) =>
    logged.push(`${level} ${message} ${JSON.stringify(properties)}`)
  );
  const stop = new AbortController();
  const done = watchContainerd(
    { socketPath: containerd.path, nerdctlDataRoot: dir },
    (message) => messages.push(message),
    stop.signal,
  );
  try {
    await test({ containerd, messages, logged });
  } finally {
    stop.abort();
    await done;
    setSourceLogSink(undefined);
    await containerd.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every message but counters, as short text. */
function summary(messages: readonly SourceMessageBody[]): string[] {
  return messages.flatMap((m) => {
    switch (m.type) {
      case "snapshot":
        return [`snapshot ${m.entries.map(described).sort().join(" ")}`];
      case "upsert":
        return [`upsert ${m.ownerId} ${m.entries.map(described).join(" ")}`];
      case "remove":
        return [`remove ${m.ownerId}`];
      case "status":
        return [`${m.state}${m.reason ? `: ${m.reason}` : ""}`];
      default:
        return [];
    }
  });
}

function described(entry: { ownerId: string; binding: { hostPort: number } }) {
  return `${entry.ownerId}:${entry.binding.hostPort}`;
}

/** Waits until the last message says `text` (summary form). */
function untilLast(messages: SourceMessageBody[], text: string) {
  return waitFor(
    () => summary(messages).at(-1) === text,
    10_000,
    () => ` for "${text}"; have ${JSON.stringify(summary(messages))}`,
  );
}

Deno.test("watchContainerd(): a snapshot of the running publishing containers in every namespace, then one message per event", async () => {
  await watching(async ({ containerd, messages }) => {
    await waitFor(() => summary(messages).includes("connected"));
    assertEquals(summary(messages), [
      "snapshot default/web:8080 other/api:7070",
      "connected",
    ]);
    assert(
      containerd.calls.indexOf("Events/Subscribe") <
        containerd.calls.indexOf("Namespaces/List"),
      `subscribed before listing: ${containerd.calls}`,
    );

    // create (read ahead), then start: the ports of the label.
    containerd.put("default", "new", { labels: ports(6060), task: "CREATED" });
    containerd.emit("default", "/tasks/create", { container_id: "new" });
    containerd.put("default", "new", { labels: ports(6060), task: "RUNNING" });
    containerd.emit("default", "/tasks/start", { container_id: "new", pid: 9 });
    await untilLast(messages, "upsert default/new default/new:6060");

    // An exec's exit leaves the ports; a label change re-reads them.
    containerd.emit("default", "/tasks/exit", {
      container_id: "web",
      id: "probe",
    });
    containerd.put("default", "web", { labels: ports(8081), task: "RUNNING" });
    containerd.emit("default", "/containers/update", { id: "web" });
    await untilLast(messages, "upsert default/web default/web:8081");

    // The init process exits: its ports go; the delete says it again.
    containerd.emit("default", "/tasks/exit", {
      container_id: "new",
      id: "new",
    });
    await untilLast(messages, "remove default/new");
    containerd.delete("default", "new");
    containerd.emit("default", "/containers/delete", { id: "new" });
    await waitFor(() =>
      summary(messages).filter((m) => m === "remove default/new").length === 2
    );
    assertEquals(summary(messages).slice(2), [
      "upsert default/new default/new:6060",
      "upsert default/web default/web:8081",
      "remove default/new",
      "remove default/new",
    ]);
  }, (containerd) => {
    containerd.put("default", "web", { labels: ports(8080), task: "RUNNING" });
    containerd.put("default", "idle", { labels: ports(9090), task: "STOPPED" });
    containerd.put("default", "plain", { labels: {}, task: "RUNNING" });
    containerd.put("other", "api", { labels: ports(7070), task: "RUNNING" });
  });
});

Deno.test("watchContainerd(): a hostile envelope is logged with what is wrong, and the stream goes on", async () => {
  await watching(async ({ containerd, messages, logged }) => {
    await waitFor(() => summary(messages).includes("connected"));
    containerd.emitRaw({
      namespace: "default",
      topic: "/tasks/start",
      event: {
        type_url: "types.containerd.io/containerd.events.TaskStart",
        value: new Uint8Array([0x0a, 0xff, 0xff]), // a length past the end
      },
    });
    containerd.emitRaw({
      namespace: "../etc",
      topic: "/tasks/start",
      event: null,
    });
    containerd.put("default", "web", { labels: ports(8080), task: "RUNNING" });
    containerd.emit("default", "/tasks/start", { container_id: "web" });
    await untilLast(messages, "upsert default/web default/web:8080");
    const errors = logged.filter((line) => line.startsWith("error "));
    assertEquals(errors.length, 2, errors.join("\n"));
    assert(
      errors.every((line) => line.includes("/tasks/start")),
      `each error names the topic:\n${errors.join("\n")}`,
    );
    assertEquals(summary(messages).filter((m) => m.startsWith("remove")), []);
  });
});

Deno.test("watchContainerd(): a broken event stream is reconnected with a fresh snapshot", async () => {
  await watching(async ({ containerd, messages }) => {
    await waitFor(() => summary(messages).includes("connected"));
    // While the stream is down, web goes and api comes.
    containerd.delete("default", "web");
    containerd.put("default", "api", { labels: ports(7070), task: "RUNNING" });
    containerd.breakStreams();
    await waitFor(() =>
      summary(messages).filter((m) => m === "connected").length === 2
    );
    assertEquals(summary(messages).slice(2, -1).map((m) => m.split(":")[0]), [
      "reconnecting",
      "snapshot default/api",
    ]);
    assertEquals(
      containerd.calls.filter((call) => call === "Events/Subscribe").length,
      2,
    );
  }, (containerd) => {
    containerd.put("default", "web", { labels: ports(8080), task: "RUNNING" });
  });
});

Deno.test("watchContainerd(): waits while containerd is not serving, and says so", async () => {
  await watching(async ({ containerd, messages }) => {
    await waitFor(() => summary(messages).length > 0);
    assertEquals(summary(messages), [
      `waiting: ${containerd.path}: Cannot watch yet: containerd's health is NOT_SERVING`,
    ]);
    containerd.health = "SERVING";
    await untilLast(messages, "connected");
    assertEquals(summary(messages).slice(1), ["snapshot ", "connected"]);
  }, (containerd) => {
    containerd.health = "NOT_SERVING";
  });
});
