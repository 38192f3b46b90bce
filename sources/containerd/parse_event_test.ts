import { Buffer } from "node:buffer";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { decodeHex } from "../../tests/engines/hex.ts";
import { CONTAINERD_PACKAGE_DEFINITION } from "./containerd_protos.ts";
import {
  type EnvelopeRecord,
  isLiveTask,
  parseContainerdEvent,
} from "./parse_event.ts";

const testdata = new URL("./testdata/", import.meta.url);

const subscribe = (CONTAINERD_PACKAGE_DEFINITION[
  "containerd.services.events.v1.Events"
] as unknown as Record<
  string,
  { responseDeserialize(bytes: Buffer): EnvelopeRecord }
>).Subscribe!;

/** Decodes envelope bytes exactly as the gRPC client does. */
function envelope(bytes: Uint8Array): EnvelopeRecord {
  return subscribe.responseDeserialize(Buffer.from(bytes));
}

function recorded(): EnvelopeRecord[] {
  return Deno.readTextFileSync(new URL("events.hex", testdata)).trim()
    .split("\n").map((line) => envelope(decodeHex(line.split(" ")[1]!)));
}

// testdata/events.hex was recorded from a real containerd 1.6 by
// tests/engines/capture_containerd_events.ts: `ctr run` of web1 in
// namespaces ga and other-ns, `ctr task exec --exec-id probe1 web1 true`,
// `ctr container label web1 nerdctl/ports=…`, kill, task rm, container rm.
Deno.test("parseContainerdEvent() decodes envelopes recorded from a real containerd", () => {
  const events = recorded().map(parseContainerdEvent);
  assertEquals(events, [
    { namespace: "ga", containerId: "web1", kind: "created" },
    { namespace: "ga", containerId: "web1", kind: "started" },
    { namespace: "other-ns", containerId: "web1", kind: "created" },
    { namespace: "other-ns", containerId: "web1", kind: "started" },
    {
      namespace: "ga",
      containerId: "web1",
      kind: "exec-exited",
      execId: "probe1",
    },
    { namespace: "ga", containerId: "web1", kind: "updated" },
    { namespace: "ga", containerId: "web1", kind: "stopped" },
    { namespace: "ga", containerId: "web1", kind: "stopped" },
    { namespace: "ga", containerId: "web1", kind: "deleted" },
    { namespace: "other-ns", containerId: "web1", kind: "stopped" },
    { namespace: "other-ns", containerId: "web1", kind: "stopped" },
    { namespace: "other-ns", containerId: "web1", kind: "deleted" },
  ]);
});

Deno.test("parseContainerdEvent() refuses hostile envelopes with a clear error", async (t) => {
  const start = recorded().find((e) => e.topic === "/tasks/start");
  const value = start!.event!.value;
  await t.step("a topic it does not act on is ignored", () => {
    assertEquals(
      parseContainerdEvent({ ...start!, topic: "/snapshot/prepare" }),
      undefined,
    );
  });
  await t.step("truncated payload bytes", () => {
    assertThrows(
      () =>
        parseContainerdEvent({
          ...start!,
          event: { type_url: start!.event!.type_url, value: value.slice(0, 5) },
        }),
      SyntaxError,
      "Cannot decode containerd /tasks/start event in namespace ga",
    );
  });
  await t.step("a payload of another type", () => {
    assertThrows(
      () =>
        parseContainerdEvent({
          ...start!,
          event: { type_url: "containerd.events.TaskOOM", value },
        }),
      TypeError,
      'payload type "containerd.events.TaskOOM", expected containerd.events.TaskStart',
    );
  });
  await t.step("no payload", () => {
    assertThrows(
      () => parseContainerdEvent({ ...start!, event: null }),
      TypeError,
      "payload type",
    );
  });
  await t.step("a namespace that is not an identifier", () => {
    assertThrows(
      () => parseContainerdEvent({ ...start!, namespace: "../etc" }),
      TypeError,
      "namespace",
    );
    assertThrows(
      () => parseContainerdEvent({ ...start!, namespace: "" }),
      TypeError,
      "namespace",
    );
  });
  await t.step("an empty container id", () => {
    assertThrows(
      () =>
        parseContainerdEvent({
          ...start!,
          event: { type_url: start!.event!.type_url, value: new Uint8Array() },
        }),
      TypeError,
      'container id ""',
    );
  });
  await t.step("unknown fields in the payload are skipped", () => {
    // field 15, varint 7: not in TaskStart
    const extended = new Uint8Array([...value, 0x78, 0x07]);
    assertEquals(
      parseContainerdEvent({
        ...start!,
        event: { type_url: start!.event!.type_url, value: extended },
      }),
      { namespace: "ga", containerId: "web1", kind: "started" },
    );
  });
  await t.step("random bytes never crash it", () => {
    for (let i = 0; i < 500; i++) {
      const bytes = crypto.getRandomValues(
        new Uint8Array(Math.floor(Math.random() * 64)),
      );
      try {
        parseContainerdEvent({
          ...start!,
          event: { type_url: start!.event!.type_url, value: bytes },
        });
      } catch (error) {
        assert(
          error instanceof TypeError || error instanceof SyntaxError,
          `unexpected ${error}`,
        );
      }
    }
  });
});

Deno.test("isLiveTask() keeps ports of running and paused tasks", () => {
  assertEquals(
    ["RUNNING", "PAUSED", "PAUSING", "CREATED", "STOPPED", "UNKNOWN"].map(
      isLiveTask,
    ),
    [true, true, true, false, false, false],
  );
});
