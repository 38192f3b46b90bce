import { tracked as trackedBinding } from "../../tests/tracked.ts";
import { waitUntil } from "../../tests/engines/daemon_support.ts";
import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { startLineReceiver } from "../../tests/line_receiver.ts";
import { waitFor } from "../../tests/wait.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { DeliveryQueue } from "../delivery_queue.ts";
import { PrivilegedServiceForwarder } from "./privileged_service_forwarder.ts";
import type { ChangeSubscription } from "../../support/netlink_changes.ts";
import { commandSucceeds, ignoreUnless } from "../../tests/requirements.ts";

const ETH0: Deno.NetworkInterfaceInfo[] = [{
  name: "eth0",
  family: "IPv4",
  address: "172.26.1.2",
  netmask: "255.255.240.0",
  scopeid: null,
  cidr: "172.26.1.2/20",
  mac: "00:15:5d:00:00:01",
}];

const tracked = (hostPort: number, containerPort: number): TrackedBinding =>
  trackedBinding("tcp", "0.0.0.0", hostPort, { ownerId: "c", containerPort });

const line = (remove: boolean, host: number, container: number) =>
  `{"remove":${remove},"ports":{"${container}/tcp":[{"HostIp":"0.0.0.0","HostPort":"${host}"}]},` +
  `"connectAddrs":[{"network":"ip+net","addr":"172.26.1.2/20"}]}\n`;

Deno.test("PrivilegedServiceForwarder sends one line per connection over TCP", async () => {
  const receiver = startLineReceiver({ port: 0 });
  const { port } = receiver.addr as Deno.NetAddr;
  const forwarder = new PrivilegedServiceForwarder(
    { transport: "tcp", hostname: "127.0.0.1", port },
    { networkInterfaces: () => ETH0 },
  );
  await forwarder.add(tracked(8080, 80));
  await forwarder.remove(tracked(8080, 80));
  await waitFor(() => receiver.messages.length === 2);
  await receiver.close();
  assertEquals(receiver.messages, [
    line(false, 8080, 80),
    line(true, 8080, 80),
  ]);
});

Deno.test("PrivilegedServiceForwarder sends connectAddrs null over the wsl-proxy unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const receiver = startLineReceiver({ path: `${dir}/wsl-proxy.sock` });
  const forwarder = new PrivilegedServiceForwarder({
    transport: "unix",
    path: `${dir}/wsl-proxy.sock`,
  }, {
    networkInterfaces: () => [],
  });
  await forwarder.add(tracked(6443, 6443));
  await waitFor(() => receiver.messages.length === 1);
  await receiver.close();
  await Deno.remove(dir, { recursive: true });
  assertEquals(
    receiver.messages[0],
    '{"remove":false,"ports":{"6443/tcp":[{"HostIp":"0.0.0.0","HostPort":"6443"}]},"connectAddrs":null}\n',
  );
});

Deno.test("PrivilegedServiceForwarder waits while the interface has no address", async () => {
  let interfaces: Deno.NetworkInterfaceInfo[] = [];
  const receiver = startLineReceiver({ port: 0 });
  const forwarder = new PrivilegedServiceForwarder(
    {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: (receiver.addr as Deno.NetAddr).port,
    },
    { networkInterfaces: () => interfaces },
  );
  await assertRejects(
    () => forwarder.add(tracked(1, 1)),
    Error,
    "eth0 has no address for it to connect to",
  );
  interfaces = ETH0;
  await forwarder.add(tracked(1, 1));
  await waitFor(() => receiver.messages.length === 1);
  await receiver.close();
  assertEquals(receiver.messages, [line(false, 1, 1)]);
});

Deno.test("PrivilegedServiceForwarder names the target when the peer is down", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  const forwarder = new PrivilegedServiceForwarder({
    transport: "tcp",
    hostname: "127.0.0.1",
    port,
  }, {
    networkInterfaces: () => ETH0,
  });
  await assertRejects(
    () => forwarder.add(tracked(1, 1)),
    Error,
    `Cannot send to tcp://127.0.0.1:${port}`,
  );
});

Deno.test("PrivilegedServiceForwarder through the queue: a peer down during changes ends with the live set", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  const queue = new DeliveryQueue([
    new PrivilegedServiceForwarder({
      transport: "tcp",
      hostname: "127.0.0.1",
      port,
    }, {
      networkInterfaces: () => ETH0,
    }),
  ], { backoff: { initialMs: 20, maxMs: 50, jitter: 0 } });
  queue.want("privileged-service", tracked(1001, 80));
  queue.want("privileged-service", tracked(1002, 80));
  // Both calls must have failed against the peer that is down.
  await waitUntil(
    () =>
      queue.status().filter((row) =>
        row.state === "retrying" &&
        row.lastError?.includes(`Cannot send to tcp://127.0.0.1:${port}`)
      ).length === 2,
    5_000,
    "both sends to fail while the peer is down",
  );
  queue.unwant("privileged-service", "tcp/0.0.0.0:1001"); // never reached the host
  queue.want("privileged-service", tracked(1003, 81));
  const receiver = startLineReceiver({ port });
  await queue.caughtUp();
  await queue.close();
  await receiver.close();
  assertEquals(
    receiver.messages.sort(),
    [line(false, 1002, 80), line(false, 1003, 81)].sort(),
  );
});

/**
 * A forwarder to a fresh TCP receiver whose interface reads are counted;
 * `addresses` is called at each read.
 */
function countingForwarder(
  addresses: () => Deno.NetworkInterfaceInfo[],
  addressChanges: ChangeSubscription,
) {
  const receiver = startLineReceiver({ port: 0 });
  const counted = { reads: 0 };
  const forwarder = new PrivilegedServiceForwarder(
    {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: (receiver.addr as Deno.NetAddr).port,
    },
    {
      networkInterfaces: () => {
        counted.reads++;
        return addresses();
      },
      addressChanges,
    },
  );
  return {
    receiver,
    forwarder,
    counted,
    async close() {
      await forwarder.close();
      await receiver.close();
    },
  };
}

Deno.test("PrivilegedServiceForwarder reads connectAddrs once, and again only after an address change", async () => {
  let addresses = ETH0;
  let changed: () => void = () => {};
  let stopped = false;
  const { receiver, forwarder, counted, close } = countingForwarder(
    () => addresses,
    (onChange, signal) => {
      changed = onChange;
      return new Promise((resolve) =>
        signal.addEventListener("abort", () => {
          stopped = true;
          resolve();
        })
      );
    },
  );
  try {
    await forwarder.add(tracked(1, 1));
    await forwarder.add(tracked(2, 2));
    assertEquals(counted.reads, 1, "read once for two messages");
    addresses = [{ ...ETH0[0]!, address: "172.26.1.3", cidr: "172.26.1.3/20" }];
    changed();
    await forwarder.add(tracked(3, 3));
    assertEquals(counted.reads, 2, "read again after the change");
    await waitFor(() => receiver.messages.length === 3);
    assertEquals(
      receiver.messages.map((m) => JSON.parse(m).connectAddrs[0].addr),
      ["172.26.1.2/20", "172.26.1.2/20", "172.26.1.3/20"],
    );
  } finally {
    await close();
  }
  assertEquals(stopped, true, "close() stops following");
});

Deno.test("PrivilegedServiceForwarder reads connectAddrs for every message once following fails", async () => {
  const { forwarder, counted, close } = countingForwarder(
    () => ETH0,
    () => Promise.reject(new Error("refused")),
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await forwarder.add(tracked(1, 1));
    await forwarder.add(tracked(2, 2));
    assertEquals(counted.reads, 2);
  } finally {
    await close();
  }
});

Deno.test(
  "subscribeAddressChanges() hears the kernel's address change (a namespace of its own)",
  {
    ignore: ignoreUnless(
      "root and unshare (a network namespace for the change)",
      Deno.uid() === 0 && await commandSucceeds("unshare", ["--version"]),
    ),
  },
  async () => {
    const probe = new URL(
      "../../tests/fixtures/address_change_probe.ts",
      import.meta.url,
    );
    const { code, stdout, stderr } = await new Deno.Command("unshare", {
      args: ["--net", Deno.execPath(), "run", "-A", probe.pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout).trim();
    assertEquals(
      [code, text],
      [0, "changed"],
      new TextDecoder().decode(stderr),
    );
  },
);
