/**
 * A real kube-apiserver (v1.32, in the peers directory: docs/testing.md)
 * with Debian's etcd, on loopback, started and stopped by the scripts
 * beside it:
 * every file under a temp folder, a kubeconfig in k3s's shape. Services are
 * created, changed and deleted through the REST API with the kubeconfig's
 * own client certificate, as kubectl would.
 *
 * @module
 */
import { load } from "js-yaml";
import { exec } from "../netns.ts";
import { haveCommands, waitUntil } from "./daemon_support.ts";
import { peersDir } from "./peers.ts";

const PEERS = peersDir();

/** A port of a service, as the API takes it. */
export interface ServicePort {
  /** Port name (required when a service has several). */
  readonly name?: string;
  /** The service port. */
  readonly port: number;
  /** The node port; allocated by the server when left out. */
  readonly nodePort?: number;
  /** TCP or UDP. @default "TCP" */
  readonly protocol?: "TCP" | "UDP";
}

/** A running API server. */
export interface KubeApiServer {
  /** The kubeconfig the start script wrote (k3s's shape). */
  readonly kubeconfig: string;
  /** Its folder (PKI, etcd data, logs). */
  readonly dir: string;
  /** Creates or replaces a service (default namespace unless given). */
  applyService(
    name: string,
    type: "NodePort" | "LoadBalancer" | "ClusterIP",
    ports: readonly ServicePort[],
    namespace?: string,
  ): Promise<void>;
  /** Deletes a service; a missing one is not an error. */
  deleteService(name: string, namespace?: string): Promise<void>;
  /** Creates a namespace. */
  createNamespace(name: string): Promise<void>;
  /** Any request with the admin credentials; the parsed JSON answer. */
  request(method: string, path: string, body?: unknown): Promise<unknown>;
  /**
   * Stops the API server (etcd stays): `TERM` gracefully, `KILL` as a
   * crash.
   */
  stopApiServer(signal: "TERM" | "KILL"): Promise<void>;
  /** Starts it again on the same data; resolves once it is ready. */
  startApiServer(): Promise<void>;
  /** Stops both and deletes the folder. */
  stop(): Promise<void>;
}

/** The API server binary, or undefined when the peers folder lacks it. */
function binary(): string | undefined {
  try {
    return [...Deno.readDirSync(PEERS)]
      .map((entry) => entry.name)
      .filter((name) => /^kube-apiserver-v[\d.]+$/.test(name))
      .sort().at(-1);
  } catch {
    return undefined;
  }
}

/** Whether the API server whose PID the start script wrote in `dir` runs. */
async function apiServerRuns(dir: string): Promise<boolean> {
  try {
    const pid = (await Deno.readTextFile(`${dir}/kube-apiserver.pid`)).trim();
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return cmdline.includes("kube-apiserver");
  } catch {
    return false;
  }
}

/** Whether a real API server can run here: the binary, etcd, openssl, curl. */
export async function canRunKubeApiServer(): Promise<boolean> {
  return binary() !== undefined &&
    await haveCommands(["etcd", "openssl", "curl", "base64"]);
}

interface Credentials {
  readonly server: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

function credentials(kubeconfig: string): Credentials {
  // deno-lint-ignore no-explicit-any
  const doc = load(kubeconfig) as any;
  const cluster = doc.clusters[0].cluster;
  const user = doc.users[0].user;
  const decode = (b64: string) =>
    new TextDecoder().decode(
      Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
    );
  return {
    server: cluster.server,
    ca: decode(cluster["certificate-authority-data"]),
    cert: decode(user["client-certificate-data"]),
    key: decode(user["client-key-data"]),
  };
}

/**
 * Starts etcd and the API server in a new folder (about 4 s) on ports that
 * `offset` shifts, so tests in parallel processes do not collide.
 */
export async function startKubeApiServer(offset = 0): Promise<KubeApiServer> {
  const dir = await Deno.makeTempDir({ prefix: "gakapi" });
  const env = {
    KAPI_PORT: String(16443 + offset),
    ETCD_PORT: String(12379 + offset),
    ETCD_PEER_PORT: String(12380 + offset),
  };
  const script = async (name: string, ...args: string[]) => {
    const result = await exec([
      "env",
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      `${PEERS}${name}`,
      dir,
      ...args,
    ]);
    if (result.code !== 0) {
      throw new Error(
        `${name} failed (${result.code}): ${result.stderr}${result.stdout}`,
      );
    }
  };
  /**
   * The start script, run once more when it reports the API server gone
   * while its process runs: its liveness check greps
   * /proc/PID/cmdline, which can read empty while the server's binary is
   * being exec'd (seen once in CI: "kube-apiserver exited" with the server
   * up and serving). The second run adopts it ("already running") and waits
   * for /readyz.
   */
  const start = async () => {
    try {
      await script("kube-apiserver-start.sh");
    } catch (error) {
      const exited = /kube-apiserver exited/.test((error as Error).message);
      if (!exited || !await apiServerRuns(dir)) throw error;
      await script("kube-apiserver-start.sh");
    }
  };
  const stopAndWipe = () =>
    exec([`${PEERS}kube-apiserver-stop.sh`, dir, "--wipe"]);
  try {
    await start();
  } catch (error) {
    // Nothing it started may outlive the test (ports stay taken).
    await stopAndWipe();
    throw error;
  }
  const kubeconfig = `${dir}/kubeconfig.yaml`;
  let creds: Credentials;
  let client: Deno.HttpClient | undefined;
  // Read again after every start: a start after the PKI was removed makes
  // new certificates and a new kubeconfig.
  const reload = async () => {
    client?.close();
    creds = credentials(await Deno.readTextFile(kubeconfig));
    client = Deno.createHttpClient({
      caCerts: [creds.ca],
      cert: creds.cert,
      key: creds.key,
    });
  };
  await reload();
  const request = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${creds.server}${path}`, {
      client: client!,
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok && response.status !== 404) {
      throw new Error(`${method} ${path}: ${response.status} ${text}`);
    }
    return text ? JSON.parse(text) : undefined;
  };
  const ready = () =>
    waitUntil(
      async () => {
        try {
          const response = await fetch(`${creds.server}/readyz`, {
            client: client!,
          });
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      },
      60_000,
      "the API server to be ready",
    );
  const servicePath = (namespace: string) =>
    `/api/v1/namespaces/${namespace}/services`;
  return {
    kubeconfig,
    dir,
    request,
    async applyService(name, type, ports, namespace = "default") {
      const existing = await request(
        "GET",
        `${servicePath(namespace)}/${name}`,
      ) as { metadata?: { resourceVersion?: string }; kind?: string };
      const body = {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name,
          namespace,
          ...(existing?.kind === "Service"
            ? { resourceVersion: existing.metadata?.resourceVersion }
            : {}),
        },
        spec: {
          type,
          selector: { app: name },
          ports: ports.map((p, i) => ({
            name: p.name ?? `p${i}`,
            port: p.port,
            protocol: p.protocol ?? "TCP",
            ...(p.nodePort === undefined || type === "ClusterIP"
              ? {}
              : { nodePort: p.nodePort }),
          })),
        },
      };
      if (existing?.kind === "Service") {
        await request("PUT", `${servicePath(namespace)}/${name}`, body);
      } else {
        await request("POST", servicePath(namespace), body);
      }
    },
    async deleteService(name, namespace = "default") {
      await request("DELETE", `${servicePath(namespace)}/${name}`);
    },
    async createNamespace(name) {
      await request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
      });
    },
    async stopApiServer(signal) {
      const result = await exec([
        "env",
        `KAPI_STOP_SIGNAL=${signal}`,
        `${PEERS}kube-apiserver-stop.sh`,
        dir,
        "--apiserver-only",
      ]);
      if (result.code !== 0) throw new Error(result.stderr);
    },
    async startApiServer() {
      await start();
      await reload();
      await ready();
    },
    async stop() {
      client?.close();
      await stopAndWipe();
    },
  };
}
