/**
 * Debian's CNI plugins (bridge + host-local + portmap, in /usr/lib/cni) run
 * by hand as a container runtime runs them (docs/testing.md): a "container"
 * namespace attached to a bridge in the host namespace, with portmap's
 * DNAT rules (CNI-HOSTPORT-DNAT, CNI-DN-…) and no proxy listening.
 *
 * @module
 */
import { createTestNamespace, exec, type TestNamespace } from "../netns.ts";

/** One port mapping, as a runtime passes it in runtimeConfig.portMappings. */
export interface CniPortMapping {
  /** Port on the host. */
  readonly hostPort: number;
  /** Port in the container. */
  readonly containerPort: number;
  /** tcp or udp. */
  readonly protocol: "tcp" | "udp";
  /** Host address, when not every address. */
  readonly hostIP?: string;
}

/** A container network set up by CNI. */
export interface CniNetwork {
  /** The container's namespace. */
  readonly container: TestNamespace;
  /** CNI DEL (portmap, then bridge) and deletes the container namespace. */
  remove(): Promise<void>;
}

/** Whether Debian's CNI plugins are installed. */
export async function haveCniPlugins(): Promise<boolean> {
  return await Deno.stat("/usr/lib/cni/portmap").then(() => true, () => false);
}

/**
 * Runs bridge + portmap ADD for a new container namespace with `host` as
 * the host side. `id` names the container (the portmap comment carries it).
 */
export async function addCniNetwork(
  host: Pick<TestNamespace, "name">,
  id: string,
  mappings: readonly CniPortMapping[],
): Promise<CniNetwork> {
  const container = await createTestNamespace("ga-cnictr");
  const dir = await Deno.makeTempDir({ prefix: "gacni" });
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
    runtimeConfig: { portMappings: mappings },
  };
  // The plugins act on the namespace they run in: run them inside `host`.
  const plugin = async (name: string, command: string, config: unknown) => {
    const child = new Deno.Command("nsenter", {
      args: [`--net=/run/netns/${host.name}`, "--", `/usr/lib/cni/${name}`],
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: id,
        CNI_NETNS: `/run/netns/${container.name}`,
        CNI_IFNAME: "eth0",
        CNI_PATH: "/usr/lib/cni",
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(config)));
    await writer.close();
    const output = await child.output();
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
  let result: unknown;
  try {
    result = await plugin("bridge", "ADD", bridge);
    await plugin("portmap", "ADD", { ...portmap, prevResult: result });
  } catch (error) {
    await container.delete();
    await exec(["rm", "-rf", dir]);
    throw error;
  }
  return {
    container,
    async remove() {
      try {
        await plugin("portmap", "DEL", { ...portmap, prevResult: result });
        await plugin("bridge", "DEL", bridge);
      } finally {
        await container.delete();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}
