import { assert } from "../../tests/assert.ts";
import { findLibcPath } from "../../support/libc.ts";
import {
  listeningSocketsReader,
  readProcNetListening,
} from "./listening_sockets.ts";

Deno.test("listening sockets: sock_diag and /proc/net both see a real listener and a bound UDP socket", async () => {
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const udp = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
    const tcpPort = (tcp.addr as Deno.NetAddr).port;
    const udpPort = (udp.addr as Deno.NetAddr).port;
    const readers = {
      "sock_diag": listeningSocketsReader(findLibcPath()),
      "/proc/net": readProcNetListening,
    };
    for (const [name, read] of Object.entries(readers)) {
      const found = await read();
      assert(
        found.some((b) => b.protocol === "tcp" && b.hostPort === tcpPort),
        `${name} sees tcp ${tcpPort}`,
      );
      assert(
        found.some((b) => b.protocol === "udp" && b.hostPort === udpPort),
        `${name} sees udp ${udpPort}`,
      );
    }
  } finally {
    tcp.close();
    udp.close();
  }
});
