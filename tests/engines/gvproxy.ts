/**
 * A real gvproxy (gvisor-tap-vsock, in the peers directory: docs/testing.md) serving the
 * host-switch forwarder API, as Rancher Desktop's host side does: in a
 * network namespace of its own, joined to the agent's namespace by a veth
 * pair, with a unix socket beside it for the test to read `/all`.
 *
 * @module
 */
import type { HostSwitchMapping } from "../../forwarding/host_switch/host_switch_api.ts";
import { createTestNamespace, exec, type TestNamespace } from "../netns.ts";
import {
  alive,
  spawnDaemon,
  stopProcess,
  waitUntil,
} from "./daemon_support.ts";
import { peerPath } from "./peers.ts";

/** The gvproxy builds in the peers directory (docs/testing.md). */
export const GVPROXY_VERSIONS = ["v0.8.1", "v0.8.7"] as const;

/** The path of the gvproxy build of `version` (tests/engines/peers.ts). */
export function gvproxyPath(version: string): string {
  return peerPath(`gvproxy-${version}`);
}

/** The host side's address on the veth pair (the agent's is .2). */
export const HOST_SIDE_IP = "172.26.1.1";

/** A running gvproxy. */
export interface Gvproxy {
  /** The API's base URL, reachable from the agent's namespace. */
  readonly url: string;
  /** The host side's namespace (172.26.1.1; the agent's side is 172.26.1.2). */
  readonly hostNs: TestNamespace;
  /** Every mapping it lists now (`GET /services/forwarder/all`). */
  all(): Promise<HostSwitchMapping[]>;
  /** Exposes a mapping directly, as another program on the host would. */
  expose(mapping: HostSwitchMapping): Promise<void>;
  /** Stops it (SIGTERM) and starts it again: every mapping is lost. */
  restart(): Promise<void>;
  /** Stops it and deletes its namespace, the veth pair and its files. */
  stop(): Promise<void>;
}

/** Whether the build of `version` is there. */
export async function haveGvproxy(version: string): Promise<boolean> {
  return await Deno.stat(gvproxyPath(version)).then(() => true, () => false);
}

/**
 * Starts gvproxy `version` in a new namespace joined to `agentNs` by a veth
 * pair (agent side 172.26.1.2/24, host side 172.26.1.1/24).
 */
export async function startGvproxy(
  version: string,
  agentNs: TestNamespace,
): Promise<Gvproxy> {
  const dir = await Deno.makeTempDir({ prefix: "gagv" });
  const hostNs = await createTestNamespace("ga-host");
  const socket = `${dir}/api.sock`;
  const pidFile = `${dir}/gvproxy.pid`;
  const suffix = Math.floor(Math.random() * 1e6).toString(36);
  const agentIf = `gaA${suffix}`;
  const hostIf = `gaH${suffix}`;
  const must = async (ns: TestNamespace, args: string[]) => {
    const result = await ns.run(args);
    if (result.code !== 0) {
      throw new Error(`${args.join(" ")} failed: ${result.stderr.trim()}`);
    }
  };
  let pid = 0;
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: socket },
  });
  const start = async () => {
    await Deno.remove(socket).catch(() => {});
    await Deno.remove(pidFile).catch(() => {});
    await spawnDaemon(hostNs.enter, [
      gvproxyPath(version),
      "-listen",
      `tcp://${HOST_SIDE_IP}:80`,
      "-listen",
      `unix://${socket}`,
      "-pid-file",
      pidFile,
    ], `${dir}/gvproxy.log`);
    await waitUntil(
      async () => {
        try {
          pid = Number((await Deno.readTextFile(pidFile)).trim());
          const response = await fetch(
            "http://gvproxy/services/forwarder/all",
            {
              client,
            },
          );
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      },
      10_000,
      `gvproxy ${version} to answer (log: ${dir}/gvproxy.log)`,
    );
  };
  const stopDaemon = async () => {
    await stopProcess(pid, 5_000);
    await waitUntil(() => !alive(pid), 5_000, "gvproxy to exit");
  };
  try {
    await must(agentNs, [
      "ip",
      "link",
      "add",
      agentIf,
      "type",
      "veth",
      "peer",
      "name",
      hostIf,
      "netns",
      hostNs.name,
    ]);
    await must(agentNs, ["ip", "addr", "add", "172.26.1.2/24", "dev", agentIf]);
    await must(agentNs, ["ip", "link", "set", agentIf, "up"]);
    await must(hostNs, [
      "ip",
      "addr",
      "add",
      `${HOST_SIDE_IP}/24`,
      "dev",
      hostIf,
    ]);
    await must(hostNs, ["ip", "link", "set", hostIf, "up"]);
    await start();
  } catch (error) {
    await stopProcess(pid, 5_000);
    client.close();
    await hostNs.delete();
    await exec([...agentNs.enter, "ip", "link", "del", agentIf]);
    throw error;
  }
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`http://gvproxy/services/forwarder/${path}`, {
      client,
      method: "POST",
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  };
  return {
    url: `http://${HOST_SIDE_IP}:80`,
    hostNs,
    async all() {
      const response = await fetch("http://gvproxy/services/forwarder/all", {
        client,
      });
      return await response.json();
    },
    expose: (mapping) => post("expose", mapping),
    async restart() {
      await stopDaemon();
      await start();
    },
    async stop() {
      await stopDaemon().catch(() => {});
      client.close();
      await hostNs.delete();
      await exec([...agentNs.enter, "ip", "link", "del", agentIf]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
