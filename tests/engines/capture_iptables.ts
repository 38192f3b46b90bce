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
  const container = await createTestNamespace("ga-cnictr");
  const dir = await Deno.makeTempDir({ prefix: "gacni" });
  try {
    const bridge = {
      cniVersion: "1.0.0",
      name: "ga-net",
      type: "bridge",
      bridge: "ga-cni0",
      isGateway: true,
      ipMasq: true,
      ipam: {
        type: "host-local",
        ranges: [[{ subnet: "10.88.0.0/16" }]],
        dataDir: `${dir}/ipam`,
      },
    };
    const portmap = {
      cniVersion: "1.0.0",
      name: "ga-net",
      type: "portmap",
      capabilities: { portMappings: true },
      runtimeConfig: {
        portMappings: [
          { hostPort: 18181, containerPort: 8080, protocol: "tcp" },
          { hostPort: 18182, containerPort: 53, protocol: "udp" },
          {
            hostPort: 18183,
            containerPort: 8080,
            protocol: "tcp",
            hostIP: "127.0.0.1",
          },
        ],
      },
    };
    // The plugins act on the namespace they run in: run them inside `host`.
    const netns = `/run/netns/${container.name}`;
    const inHost = async (name: string, command: string, config: unknown) => {
      const nsenter = new Deno.Command("nsenter", {
        args: [`--net=/run/netns/${host.name}`, "--", `/usr/lib/cni/${name}`],
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: "capture1",
          CNI_NETNS: netns,
          CNI_IFNAME: "eth0",
          CNI_PATH: "/usr/lib/cni",
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = nsenter.stdin.getWriter();
      await writer.write(new TextEncoder().encode(JSON.stringify(config)));
      await writer.close();
      const output = await nsenter.output();
      const text = new TextDecoder().decode(output.stdout);
      if (!output.success) {
        throw new Error(
          `${name} ${command}: ${text} ${
            new TextDecoder().decode(output.stderr)
          }`,
        );
      }
      return text ? JSON.parse(text) : undefined;
    };
    const result = await inHost("bridge", "ADD", bridge);
    await inHost("portmap", "ADD", { ...portmap, prevResult: result });
    await Deno.writeTextFile(
      `${out}/cni.nat`,
      await save(host.enter, "iptables-save"),
    );
    await inHost("portmap", "DEL", { ...portmap, prevResult: result });
    await inHost("bridge", "DEL", bridge);
  } finally {
    await container.delete();
    await host.delete();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

await captureDocker();
await captureCni();
Deno.stdout.writeSync(
  new TextEncoder().encode(`wrote ${out}/docker.nat and ${out}/cni.nat\n`),
);
