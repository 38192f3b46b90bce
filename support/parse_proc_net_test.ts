import { assertEquals, assertThrows } from "../tests/assert.ts";
import { bindingKey } from "../binding/binding.ts";
import {
  decodeProcNetAddress,
  isPublishing,
  parseProcNet,
} from "./parse_proc_net.ts";

const testdata = new URL("./testdata/proc_net/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, testdata));

function published(name: string, protocol: "tcp" | "udp"): string[] {
  const { sockets, errors } = parseProcNet(read(name), protocol);
  assertEquals(errors, []);
  return sockets.filter(isPublishing).map((s) => bindingKey(s.binding)).sort();
}

// testdata/ holds files recorded on a real kernel with listeners opened by a
// script: tcp 127.0.0.1:18080 (LISTEN, plus one connection to it), tcp6
// [::]:18081, udp 0.0.0.0:18082, udp6 [::1]:18083, and udp 127.0.0.1:18084
// connected (must not publish). Port 2024 (0x07E8) was the machine's own.
Deno.test("parseProcNet() reads recorded kernel tables", async (t) => {
  await t.step("tcp", () => {
    assertEquals(published("tcp", "tcp"), [
      "tcp/0.0.0.0:2024",
      "tcp/127.0.0.1:18080",
    ]);
  });
  await t.step("tcp6", () => {
    assertEquals(published("tcp6", "tcp"), ["tcp/[::]:18081"]);
  });
  await t.step("udp", () => {
    assertEquals(published("udp", "udp"), ["udp/0.0.0.0:18082"]);
  });
  await t.step("udp6", () => {
    assertEquals(published("udp6", "udp"), ["udp/[::1]:18083"]);
  });
});

Deno.test("decodeProcNetAddress() reads little-endian words", () => {
  assertEquals(decodeProcNetAddress("0100007F:1F90"), {
    ip: "127.0.0.1",
    port: 8080,
  });
  assertEquals(
    decodeProcNetAddress("B80D0120000000000000000001000000:0050").ip,
    "2001:0db8:0000:0000:0000:0000:0000:0001",
  );
  assertThrows(() => decodeProcNetAddress("0100007F"), SyntaxError);
  assertThrows(() => decodeProcNetAddress("zz00007F:1F90"), SyntaxError);
});

Deno.test("parseProcNet() skips hostile lines and names them", async (t) => {
  const header = read("tcp").split("\n")[0]!;
  const goodLine =
    "   1: 0100007F:46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5398 1";
  await t.step("garbage and truncated lines", () => {
    const text = [header, "garbage", "   2: 0100007F:46", goodLine, ""].join(
      "\n",
    );
    const { sockets, errors } = parseProcNet(text, "tcp");
    assertEquals(sockets.length, 1);
    assertEquals(errors.length, 2);
    assertEquals(errors[0]?.startsWith("line 2"), true);
  });
  await t.step("reordered columns are found by name", () => {
    const text = "inode st local_address\n5398 0A 0100007F:1F90\n";
    const { sockets } = parseProcNet(text, "tcp");
    assertEquals(sockets[0]?.inode, "5398");
    assertEquals(sockets[0]?.state, 0x0a);
  });
  await t.step("no header", () => {
    assertEquals(parseProcNet(goodLine, "tcp").sockets, []);
    assertEquals(parseProcNet("", "tcp").errors.length, 1);
  });
  await t.step("an oversized line", () => {
    const { errors } = parseProcNet(
      `${header}\n${"A".repeat(1_000_000)}`,
      "tcp",
    );
    assertEquals(errors.length, 1);
    assertEquals(errors[0]!.length < 300, true);
  });
  await t.step("10,000 sockets", () => {
    const lines = [header];
    for (let i = 0; i < 10_000; i++) {
      const port = (1024 + i).toString(16).toUpperCase().padStart(4, "0");
      lines.push(`${i}: 00000000:${port} 00000000:0000 0A 0:0 0:0 0 0 0 ${i}`);
    }
    assertEquals(parseProcNet(lines.join("\n"), "tcp").sockets.length, 10_000);
  });
});
