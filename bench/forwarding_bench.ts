/**
 * Forwarding benchmarks over real sockets on loopback: vtunnel messages per
 * second, opening and closing 1,000 listeners, shutdown with 1,000 bindings.
 * Run with `deno task bench`.
 *
 * @module
 */
import { DeliveryQueue } from "../forwarding/delivery_queue.ts";
import { ListenerForwarder } from "../forwarding/listeners/listener_forwarder.ts";
import { PrivilegedServiceForwarder } from "../forwarding/privileged_service/privileged_service_forwarder.ts";
import { startLineReceiver } from "../tests/line_receiver.ts";
import { bindingKey, makeBinding } from "../binding/binding.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

const COUNT = 1_000;

function bindings(hostIp: string, base: number): TrackedBinding[] {
  return Array.from({ length: COUNT }, (_, i) => {
    const binding = makeBinding("tcp", hostIp, base + i);
    return {
      key: bindingKey(binding),
      binding,
      holders: [{
        source: "docker",
        entry: { ownerId: `c${i}`, binding, containerPort: 80 },
      }],
    };
  });
}

const LO: Deno.NetworkInterfaceInfo[] = [{
  name: "eth0",
  family: "IPv4",
  address: "172.26.1.2",
  netmask: "255.255.240.0",
  scopeid: null,
  cidr: "172.26.1.2/20",
  mac: "00:00:00:00:00:00",
}];

const receiver = startLineReceiver({ port: 0 });
const vtunnelTarget = {
  transport: "tcp" as const,
  hostname: "127.0.0.1",
  port: (receiver.addr as Deno.NetAddr).port,
};
const vtunnelBindings = bindings("0.0.0.0", 20_000);

Deno.bench(
  "vtunnel: 1,000 adds then 1,000 removes through the queue to a TCP peer (2,000 messages)",
  { n: 5, warmup: 1 },
  async () => {
    const queue = new DeliveryQueue([
      new PrivilegedServiceForwarder(vtunnelTarget, {
        networkInterfaces: () => LO,
      }),
    ]);
    for (const binding of vtunnelBindings) {
      queue.want("privileged-service", binding);
    }
    await queue.caughtUp();
    queue.unwantAll();
    await queue.caughtUp();
    await queue.close();
  },
);

Deno.bench(
  "shutdown: clear 1,000 vtunnel bindings and settle (1,000 remove messages)",
  { n: 5, warmup: 1 },
  async (b) => {
    const queue = new DeliveryQueue([
      new PrivilegedServiceForwarder(vtunnelTarget, {
        networkInterfaces: () => LO,
      }),
    ]);
    for (const binding of vtunnelBindings) {
      queue.want("privileged-service", binding);
    }
    await queue.caughtUp();
    b.start();
    queue.unwantAll();
    await queue.caughtUp();
    b.end();
    await queue.close();
  },
);

// 127.0.0.2 keeps clear of ports other programs hold on 127.0.0.1.
const listenerBindings = bindings("127.0.0.2", 30_000);
Deno.bench("listeners: open and close 1,000 TCP listeners", {
  n: 10,
  warmup: 1,
}, async () => {
  const forwarder = new ListenerForwarder();
  for (const binding of listenerBindings) await forwarder.add(binding);
  await forwarder.close();
});

globalThis.addEventListener("unload", () => void receiver.close());
