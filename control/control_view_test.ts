import { assert, assertEquals, assertStringIncludes } from "../tests/assert.ts";
import { type PortRow, statusRows } from "./control_view.ts";
import type { DeliveryStatus } from "../forwarding/lane.ts";
import { formatPorts, formatStatus } from "../cli/control_format.ts";

const HOSTILE = "evil\n\x1b[2Jtcp    0.0.0.0:22  forged\u202e";

Deno.test("formatPorts() and formatStatus() print names from sources escaped", () => {
  const rows: PortRow[] = [{
    protocol: "tcp",
    address: "0.0.0.0:8080",
    key: "tcp/0.0.0.0:8080",
    owners: [{ source: "containerd", name: HOSTILE, id: "ns/c1" }],
    deliveries: [{
      forwarder: "privileged-service",
      state: "retrying",
      attempts: 2,
      lastError: "refused\r\n",
      since: 0,
    }],
    since: 0,
  }];
  const text = formatPorts(rows, 1000);
  // deno-lint-ignore no-control-regex -- looking for control characters
  assert(!/[\x00-\x08\x0b-\x1f\x7f\u202e]/.test(text), JSON.stringify(text));
  assert(!text.includes("\x1b"), "no escape character");
  assertStringIncludes(text, "containerd:evil\\n\\x1b[2Jtcp");
  assertStringIncludes(text, "refused\\r\\n");
  assertStringIncludes(text, "\\u202e");
  // One header line and one row line.
  assert(text.trimEnd().split("\n").length === 2, text);

  const status = formatStatus({
    version: "1",
    mode: "privileged",
    pid: 1,
    uptimeSeconds: 1,
    bindings: 1,
    sources: [{
      name: "kubernetes",
      worker: "running",
      state: "reconnecting",
      reason: HOSTILE,
      restarts: 0,
      bindings: 0,
    }],
    forwarders: [],
  }, 1000);
  assert(!status.includes("\x1b"), status);
  assertStringIncludes(status, "evil\\n\\x1b[2J");
});

Deno.test("formatStatus() shows a source's counters after its reason", () => {
  const status = formatStatus({
    version: "1",
    mode: "privileged",
    pid: 1,
    uptimeSeconds: 1,
    bindings: 0,
    sources: [{
      name: "docker",
      worker: "running",
      state: "connected",
      restarts: 0,
      bindings: 0,
      counters: { mispredictions: 0 },
    }, {
      name: "podman",
      worker: "running",
      state: "reconnecting",
      reason: "connection refused",
      restarts: 0,
      bindings: 0,
      counters: { mispredictions: 2 },
    }],
    forwarders: [],
  }, 1000);
  assertStringIncludes(status, "mispredictions: 0");
  assertStringIncludes(status, "connection refused; mispredictions: 2");
});

Deno.test("statusRows() says a forwarder is waiting while its host side is unreachable, retrying when it refuses a binding", () => {
  const row = (
    key: string,
    state: DeliveryStatus["state"],
    lastError?: string,
    unreachable?: boolean,
  ): DeliveryStatus => ({
    forwarder: "wsl-proxy",
    key,
    state,
    attempts: state === "retrying" ? 2 : 0,
    since: 0,
    ...(lastError ? { lastError } : {}),
    ...(unreachable ? { unreachable } : {}),
  });
  const gone =
    "Cannot send to the WSL proxy at /run/wsl-proxy.sock: its socket does not exist (yet)";
  const rows = (deliveries: DeliveryStatus[]) =>
    statusRows([], ["wsl-proxy"], deliveries, [], (ms) => ms).forwarders[0]!;
  // Bindings sent before it went away still count as forwarded.
  const waiting = rows([
    row("tcp/0.0.0.0:80", "retrying", gone, true),
    row("tcp/0.0.0.0:81", "forwarded"),
  ]);
  assertEquals([waiting.healthy, waiting.waiting], [false, gone]);
  const text = formatStatus({
    version: "1",
    mode: "host-switch",
    pid: 1,
    uptimeSeconds: 1,
    bindings: 2,
    sources: [],
    forwarders: [waiting],
  }, 1000);
  assertStringIncludes(text, "waiting");
  assertStringIncludes(text, gone);
  // The host side answered and refused: only retrying.
  const refused = rows([
    row("tcp/0.0.0.0:80", "retrying", "address already in use"),
    row("tcp/0.0.0.0:82", "retrying", "address already in use"),
  ]);
  assertEquals([refused.healthy, refused.waiting], [false, undefined]);
  assertEquals(rows([row("tcp/0.0.0.0:81", "forwarded")]).waiting, undefined);
});
