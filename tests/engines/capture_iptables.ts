/**
 * Records real NAT tables for the iptables parser's unit tests:
 * - `docker.nat`: `iptables-save -t nat` of a real dockerd (in a network
 *   namespace) after `docker run -p` of tcp, udp, 127.0.0.1 and a range;
 * - `cni.nat`: the same after CNI bridge + portmap ADD (Debian's plugins in
 *   /usr/lib/cni) for a "container" namespace, with tcp and udp mappings
 *   and one on 127.0.0.1.
 *
 * Run as root: `deno run -A tests/engines/capture_iptables.ts [dir]`
 *
 * @module
 */
import { createTestNamespace, exec } from "../netns.ts";
import { startDockerd, TEST_IMAGE } from "./dockerd.ts";
import { addCniNetwork } from "./cni.ts";

const out = Deno.args[0] ?? "sources/iptables/testdata";

async function save(enter: readonly string[], binary: string) {
  const result = await exec([...enter, binary, "-t", "nat"]);
  if (result.code !== 0) throw new Error(`${binary}: ${result.stderr}`);
  // The header and footer comments carry the time: drop them.
  return result.stdout.split("\n").filter((line) => !line.startsWith("# "))
    .join("\n");
}

async function captureDocker() {
  const d = await startDockerd();
  try {
    const httpd = ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"];
    await d.docker([
      "run",
      "-d",
      "--name",
      "web",
      "-p",
      "18080:8080",
      "-p",
      "127.0.0.1:18081:8080",
      "-p",
      "18082:53/udp",
      TEST_IMAGE,
      ...httpd,
    ]);
    await d.docker([
      "run",
      "-d",
      "--name",
      "range",
      "-p",
      "18090-18092:9000-9002",
      TEST_IMAGE,
      ...httpd,
    ]);
    await Deno.writeTextFile(
      `${out}/docker.nat`,
      await save(d.ns.enter, "iptables-save"),
    );
  } finally {
    await d.stop();
  }
}

async function captureCni() {
  const host = await createTestNamespace("ga-cnihost");
  try {
    const network = await addCniNetwork(host, "capture1", [
      { hostPort: 18181, containerPort: 8080, protocol: "tcp" },
      { hostPort: 18182, containerPort: 53, protocol: "udp" },
      {
        hostPort: 18183,
        containerPort: 8080,
        protocol: "tcp",
        hostIP: "127.0.0.1",
      },
    ]);
    await Deno.writeTextFile(
      `${out}/cni.nat`,
      await save(host.enter, "iptables-save"),
    );
    await network.remove();
  } finally {
    await host.delete();
  }
}

await captureDocker();
await captureCni();
Deno.stdout.writeSync(
  new TextEncoder().encode(`wrote ${out}/docker.nat and ${out}/cni.nat\n`),
);
