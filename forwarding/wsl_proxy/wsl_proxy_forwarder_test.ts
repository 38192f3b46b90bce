import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { startLineReceiver } from "../../tests/line_receiver.ts";
import { tracked } from "../../tests/tracked.ts";
import { HostSideUnreachableError } from "../forwarder.ts";
import { waitFor } from "../../tests/wait.ts";
import {
  WSL_PROXY_IPV6_REASON,
  WslProxyForwarder,
} from "./wsl_proxy_forwarder.ts";

Deno.test("WslProxyForwarder writes Go's PortMapping bytes with connectAddrs null, one connection per add and remove", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gawsl" });
  const receiver = startLineReceiver({ path: `${dir}/wsl-proxy.sock` });
  try {
    const forwarder = new WslProxyForwarder(`${dir}/wsl-proxy.sock`);
    const web = tracked("tcp", "0.0.0.0", 8080, { containerPort: 80 });
    const dns = tracked("udp", "127.0.0.1", 5353);
    await forwarder.add(web);
    await forwarder.add(dns);
    await forwarder.remove(web);
    await waitFor(() => receiver.messages.length === 3, 5000);
    assertEquals(receiver.messages, [
      '{"remove":false,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},"connectAddrs":null}\n',
      '{"remove":false,"ports":{"5353/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}]},"connectAddrs":null}\n',
      '{"remove":true,"ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},"connectAddrs":null}\n',
    ]);
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WslProxyForwarder skips IPv6 bindings: the proxy keeps one listener per port", () => {
  const forwarder = new WslProxyForwarder("/run/wsl-proxy.sock");
  assertEquals(
    forwarder.skipReason(tracked("tcp", "::", 8080)),
    WSL_PROXY_IPV6_REASON,
  );
  assertEquals(
    forwarder.skipReason(tracked("tcp", "::1", 8080)),
    WSL_PROXY_IPV6_REASON,
  );
  assertEquals(
    forwarder.skipReason(tracked("tcp", "0.0.0.0", 8080)),
    undefined,
  );
  assertEquals(
    forwarder.skipReason(tracked("udp", "127.0.0.1", 53)),
    undefined,
  );
});

Deno.test("WslProxyForwarder fails every binding with one text while the proxy's socket is missing or unserved", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gawsl" });
  try {
    const path = `${dir}/wsl-proxy.sock`;
    const forwarder = new WslProxyForwarder(path);
    for (
      const binding of [
        tracked("tcp", "0.0.0.0", 1),
        tracked("udp", "127.0.0.1", 2),
      ]
    ) {
      await assertRejects(
        () => forwarder.add(binding),
        HostSideUnreachableError,
        `Cannot send to the WSL proxy at ${path}: its socket does not exist (yet)`,
      );
    }
    // A path nobody listens on, as a proxy that died leaves its socket (a
    // closed Deno listener unlinks its file, so a plain file stands in:
    // connect(2) refuses both the same way).
    await Deno.writeTextFile(path, "");
    await assertRejects(
      () => forwarder.remove(tracked("tcp", "0.0.0.0", 1)),
      HostSideUnreachableError,
      `Cannot send to the WSL proxy at ${path}: nothing listens on its socket`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
