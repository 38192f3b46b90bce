/**
 * Records real containerd event envelopes as protobuf bytes for the parser's
 * unit tests: starts a containerd (tests/engines/containerd.ts), subscribes
 * with a client that keeps the raw bytes, drives `ctr` through run, exec,
 * label update, kill and delete in two namespaces, and writes one line per
 * envelope: `<topic> <hex>`.
 *
 * Run as root: `deno run -A tests/engines/capture_containerd_events.ts OUT`
 *
 * @module
 */
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { CONTAINERD_PACKAGE_DEFINITION } from "../../sources/containerd/containerd_protos.ts";
import { CONTAINERD_TOPICS } from "../../sources/containerd/parse_event.ts";
import { startContainerd } from "./containerd.ts";
import { encodeHex } from "./hex.ts";

const out = Deno.args[0] ?? "sources/containerd/testdata/events.hex";
const containerd = await startContainerd();
const subscribe = CONTAINERD_PACKAGE_DEFINITION[
  "containerd.services.events.v1.Events"
] as unknown as Record<
  string,
  {
    path: string;
    requestSerialize: (value: unknown) => Uint8Array;
    responseDeserialize: (bytes: Uint8Array) => { topic: string };
  }
>;
const method = subscribe.Subscribe!;
const client = new Client(
  `unix://${containerd.socket}`,
  credentials.createInsecure(),
);
const lines: string[] = [];
const stream = client.makeServerStreamRequest(
  method.path,
  method.requestSerialize as (value: unknown) => Buffer,
  (bytes: Buffer) => bytes,
  { filters: CONTAINERD_TOPICS.map((t) => `topic==${JSON.stringify(t)}`) },
  new Metadata(),
);
stream.on("data", (bytes: Buffer) => {
  const { topic } = method.responseDeserialize(bytes);
  lines.push(`${topic} ${encodeHex(new Uint8Array(bytes))}`);
});
stream.on("error", () => {});
try {
  const ports =
    '[{"HostPort":18081,"ContainerPort":8080,"Protocol":"tcp","HostIP":"0.0.0.0"}]';
  await containerd.run("ga", "web1", {
    labels: { "nerdctl/ports": ports, "nerdctl/name": "web1" },
  });
  await containerd.run("other-ns", "web1", {
    labels: { "nerdctl/ports": ports.replace("18081", "18082") },
  });
  await containerd.ctr("ga", [
    "task",
    "exec",
    "--exec-id",
    "probe1",
    "web1",
    "true",
  ]);
  await containerd.ctr("ga", [
    "container",
    "label",
    "web1",
    'nerdctl/ports=[{"HostPort":18083,"ContainerPort":80,"Protocol":"udp","HostIP":"::"}]',
  ]);
  await containerd.remove("ga", "web1");
  await containerd.remove("other-ns", "web1");
  await new Promise((resolve) => setTimeout(resolve, 300));
} finally {
  stream.cancel();
  client.close();
  await containerd.stop();
}
await Deno.writeTextFile(out, lines.join("\n") + "\n");
Deno.stdout.writeSync(
  new TextEncoder().encode(`${lines.length} envelopes → ${out}\n`),
);
