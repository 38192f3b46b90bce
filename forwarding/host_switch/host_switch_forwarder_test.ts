import { waitFor } from "../../tests/wait.ts";
import { tracked as trackedBinding } from "../../tests/tracked.ts";
import { waitUntil } from "../../tests/engines/daemon_support.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../tests/assert.ts";
import { startFakeHostSwitch } from "../../tests/fake_host_switch.ts";
import type { Protocol } from "../../binding/binding.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { DeliveryQueue } from "../delivery_queue.ts";
import { HostSwitchForwarder } from "./host_switch_forwarder.ts";

const tracked = (
  hostIp: string,
  port: number,
  protocol: Protocol = "tcp",
): TrackedBinding => trackedBinding(protocol, hostIp, port);

const signal = new AbortController().signal;

async function tempStatePath(): Promise<string> {
  return `${await Deno.makeTempDir()}/state/host-switch.json`;
}

// Against a FAKE host-switch API (tests/fake_host_switch.ts): no real
// gvproxy runs here.
Deno.test("HostSwitchForwarder exposes and unexposes, always sending the protocol", async () => {
  const api = startFakeHostSwitch();
  const statePath = await tempStatePath();
  const forwarder = new HostSwitchForwarder({
    baseUrl: api.url,
    statePath,
    tapIp: "192.168.127.2",
  });
  try {
    await forwarder.add(tracked("0.0.0.0", 8080), signal);
    await forwarder.add(tracked("0.0.0.0", 5353, "udp"), signal);
    assertEquals([...api.mappings.values()], [
      {
        local: "127.0.0.1:8080",
        remote: "192.168.127.2:8080",
        protocol: "tcp",
      },
      {
        local: "127.0.0.1:5353",
        remote: "192.168.127.2:5353",
        protocol: "udp",
      },
    ]);
    const saved = JSON.parse(await Deno.readTextFile(statePath));
    assertEquals(saved.exposed.length, 2);
    await forwarder.remove(tracked("0.0.0.0", 5353, "udp"), signal);
    assertEquals(api.requests.at(-1), {
      path: "/services/forwarder/unexpose",
      body: { local: "127.0.0.1:5353", protocol: "udp" },
    });
    assertEquals(api.mappings.size, 1);
  } finally {
    await api.close();
  }
});

Deno.test("HostSwitchForwarder uses the binding's address with -adminInstall and skips IPv6", async () => {
  const api = startFakeHostSwitch();
  const forwarder = new HostSwitchForwarder({
    baseUrl: api.url,
    statePath: await tempStatePath(),
    adminInstall: true,
  });
  try {
    await forwarder.add(tracked("0.0.0.0", 80), signal);
    await forwarder.add(tracked("::", 80), signal);
    assertEquals([...api.mappings.keys()], ["tcp/0.0.0.0:80"]);
  } finally {
    await api.close();
  }
});

Deno.test("HostSwitchForwarder treats 'already running' for its own mapping and 'not found' as done", async () => {
  const api = startFakeHostSwitch(0, [
    { local: "127.0.0.1:80", remote: "192.168.127.2:80", protocol: "tcp" },
    { local: "127.0.0.1:81", remote: "192.168.127.9:81", protocol: "tcp" },
  ]);
  const forwarder = new HostSwitchForwarder({
    baseUrl: api.url,
    statePath: await tempStatePath(),
  });
  try {
    await forwarder.add(tracked("0.0.0.0", 80), signal);
    const error = await assertRejects(() =>
      forwarder.add(tracked("0.0.0.0", 81), signal)
    );
    assertStringIncludes(
      error.message,
      "exposed already, to 192.168.127.9:81, not by this agent",
    );
    await forwarder.remove(tracked("0.0.0.0", 82), signal); // never exposed: "proxy not found"
    assertEquals(api.requests.at(-1)?.path, "/services/forwarder/unexpose");
  } finally {
    await api.close();
  }
});

Deno.test("HostSwitchForwarder keeps a mapping two bindings share until the last goes", async () => {
  const api = startFakeHostSwitch();
  const forwarder = new HostSwitchForwarder({
    baseUrl: api.url,
    statePath: await tempStatePath(),
  });
  try {
    await forwarder.add(tracked("0.0.0.0", 80), signal);
    await forwarder.add(tracked("127.0.0.1", 80), signal);
    await forwarder.remove(tracked("0.0.0.0", 80), signal);
    assertEquals(api.mappings.size, 1);
    await forwarder.remove(tracked("127.0.0.1", 80), signal);
    assertEquals(api.mappings.size, 0);
  } finally {
    await api.close();
  }
});

Deno.test("HostSwitchForwarder through the queue removes stale mappings of an earlier run", async () => {
  const statePath = await tempStatePath();
  const earlierApi = startFakeHostSwitch();
  const earlier = new HostSwitchForwarder({
    baseUrl: earlierApi.url,
    statePath,
  });
  await earlier.add(tracked("0.0.0.0", 7001), signal); // ours, now stale
  await earlier.add(tracked("0.0.0.0", 7002), signal); // ours, still wanted
  const left = [...earlierApi.mappings.values()];
  await earlierApi.close();

  const foreign = {
    local: "127.0.0.1:9999",
    remote: "192.168.127.5:9999",
    protocol: "tcp",
  };
  const api = startFakeHostSwitch(0, [...left, foreign]);
  const queue = new DeliveryQueue([
    new HostSwitchForwarder({ baseUrl: api.url, statePath }),
  ]);
  try {
    queue.want("host-switch", tracked("0.0.0.0", 7002));
    queue.want("host-switch", tracked("0.0.0.0", 7003));
    await queue.caughtUp();
    assertEquals([...api.mappings.keys()].sort(), [
      "tcp/127.0.0.1:7002",
      "tcp/127.0.0.1:7003",
      "tcp/127.0.0.1:9999",
    ]);
    const exposes = api.requests.filter((r) => r.path.endsWith("/expose"));
    assertEquals(
      exposes.length,
      1,
      "7002 was already there: not exposed again",
    );
  } finally {
    await queue.close();
    await api.close();
  }
});

Deno.test("HostSwitchForwarder through the queue: an API down, then up, ends with the live set", async () => {
  const api1 = startFakeHostSwitch();
  const port = Number(new URL(api1.url).port);
  await api1.close(); // down while changes happen
  const queue = new DeliveryQueue(
    [
      new HostSwitchForwarder({
        baseUrl: `http://127.0.0.1:${port}`,
        statePath: await tempStatePath(),
      }),
    ],
    { backoff: { initialMs: 20, maxMs: 100, jitter: 0 } },
  );
  queue.want("host-switch", tracked("0.0.0.0", 6001));
  queue.want("host-switch", tracked("0.0.0.0", 6002));
  // The API is down: reading what the host side holds fails (named), and
  // nothing counts as forwarded meanwhile.
  await waitUntil(
    () =>
      queue.laneStatus().some((lane) =>
        lane.readError?.includes(
          `Cannot reach host-switch at http://127.0.0.1:${port}/services/forwarder/all`,
        )
      ),
    5_000,
    "the read of the host side to fail while the API is down",
  );
  assertEquals(
    queue.status().map((row) => row.state),
    ["pending", "pending"],
  );
  queue.unwant("host-switch", "tcp/0.0.0.0:6001");
  const api = startFakeHostSwitch(port);
  try {
    await queue.caughtUp();
    assertEquals([...api.mappings.keys()], ["tcp/127.0.0.1:6002"]);
    assertEquals(api.requests.length, 1);
  } finally {
    await queue.close();
    await api.close();
  }
});

Deno.test("HostSwitchForwarder ignores a damaged state file", async () => {
  const statePath = await tempStatePath();
  await Deno.mkdir(statePath.slice(0, statePath.lastIndexOf("/")), {
    recursive: true,
  });
  await Deno.writeTextFile(statePath, "{not json");
  const api = startFakeHostSwitch();
  const forwarder = new HostSwitchForwarder({ baseUrl: api.url, statePath });
  try {
    assertEquals(await forwarder.readApplied(signal, []), []);
    await forwarder.add(tracked("0.0.0.0", 1), signal);
    assertEquals(
      JSON.parse(await Deno.readTextFile(statePath)).exposed.length,
      1,
    );
  } finally {
    await api.close();
  }
});

Deno.test("HostSwitchForwarder through the queue: HTML, garbage JSON and a hang are retried, named, then it converges", async () => {
  // The FAKE peer: no real gvproxy answers like this.
  const api = startFakeHostSwitch();
  api.misbehave = "html";
  const queue = new DeliveryQueue(
    [
      new HostSwitchForwarder({
        baseUrl: api.url,
        statePath: await tempStatePath(),
        timeoutMs: 200,
      }),
    ],
    { backoff: { initialMs: 20, maxMs: 50, jitter: 0 } },
  );
  const readError = () => queue.laneStatus()[0]?.readError ?? "";
  const until = (check: () => boolean, what: string) =>
    waitFor(check, 2_000, () => ` for ${what}: ${readError()}`);
  try {
    queue.want("host-switch", tracked("0.0.0.0", 6101));
    await until(() => readError().includes("<html>"), "the HTML answer");
    assertStringIncludes(readError(), `${api.url}/services/forwarder/all`);
    assertStringIncludes(readError(), "not JSON");
    api.misbehave = "garbage";
    await until(() => readError().includes('[{\\"local\\": tru'), "garbage");
    api.misbehave = "hang";
    await until(() => readError().includes("within 200 ms"), "the hang");
    assertEquals(api.mappings.size, 0);
    api.misbehave = undefined;
    await queue.caughtUp();
    assertEquals([...api.mappings.keys()], ["tcp/127.0.0.1:6101"]);
    assertEquals(readError(), "");
  } finally {
    await queue.close();
    await api.close();
  }
});

Deno.test("HostSwitchForwarder.readApplied: leftovers keep the holders contract (never empty)", async () => {
  const statePath = await tempStatePath();
  const earlierApi = startFakeHostSwitch();
  const earlier = new HostSwitchForwarder({
    baseUrl: earlierApi.url,
    statePath,
  });
  await earlier.add(tracked("0.0.0.0", 7101), signal); // ours, now stale
  const left = [...earlierApi.mappings.values()];
  await earlierApi.close();
  const api = startFakeHostSwitch(0, left);
  try {
    const forwarder = new HostSwitchForwarder({ baseUrl: api.url, statePath });
    const applied = await forwarder.readApplied(signal, []);
    assertEquals(applied.length, 1);
    for (const binding of applied) {
      assert(binding.holders.length > 0, `${binding.key} has no holder`);
      assertEquals(binding.holders[0]?.source, "host-switch");
    }
  } finally {
    await api.close();
  }
});
