/**
 * What the Kubernetes worker needs, read from a kubeconfig's current
 * context: how to reach the API server (URL and credentials, sent to the
 * worker) and what to grant it (the server's host:port and the files the
 * context references). Pure; the main thread reads the file.
 *
 * @module
 */
import { load } from "js-yaml";
import {
  connectionFiles,
  isKubeServerUrl,
  type KubeConnection,
  type PemSource,
} from "./kube_connection.ts";
import { jsonRecord } from "./json_record.ts";

/** What a kubeconfig calls for. */
export interface KubeconfigAccess {
  /** The current context's API server URL (no trailing slash). */
  readonly server: string;
  /** Its `host:port` (the port defaulted from the scheme): the net grant. */
  readonly hostPort: string;
  /** Files the current context references (CA, client certificate and key, token file), absolute. */
  readonly files: readonly string[];
  /** The server and credentials, for the worker. */
  readonly connection: KubeConnection;
  /** Settings of the context the agent does not honour, each a sentence for the log. */
  readonly warnings: readonly string[];
}

function named(
  list: unknown,
  name: unknown,
  key: string,
): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const item = list.map(jsonRecord).find((entry) => entry?.name === name);
  return jsonRecord(item?.[key]);
}

/** Throws the kubeconfig's error: "Cannot read kubeconfig PATH: …". */
type Fail = (message: string) => never;

/** The decoded kubeconfig, a mapping. */
function decoded(text: string, fail: Fail): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = load(text);
  } catch (error) {
    return fail(`not YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  return jsonRecord(parsed) ?? fail("not a mapping");
}

/** The server of the current context's cluster, checked: its URL and its text without trailing slashes. */
function serverOf(
  cluster: Record<string, unknown> | undefined,
  clusterName: unknown,
  fail: Fail,
): { url: URL; trimmed: string } {
  const server = cluster?.server;
  if (typeof server !== "string") {
    return fail(`cluster ${JSON.stringify(clusterName)} has no server`);
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail(`server ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    fail(`server ${server} is not http(s)`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "") {
    fail(`server ${server} has a query, fragment or user`);
  }
  const trimmed = server.replace(/\/+$/, "");
  if (!isKubeServerUrl(trimmed)) {
    fail(
      `server ${JSON.stringify(server)} is not http(s)://host[:port][/path]`,
    );
  }
  return { url, trimmed };
}

/** Reads PEM material: `<field>-data` (base64) or the file `<field>` names. */
function pemReader(folder: string, fail: Fail) {
  return (
    from: Record<string, unknown>,
    field: string,
  ): PemSource | undefined => {
    const data = from[`${field}-data`];
    if (data !== undefined && data !== "") {
      if (typeof data !== "string") {
        return fail(`${field}-data is not a string`);
      }
      try {
        return { pem: atob(data.replace(/\s+/g, "")) };
      } catch {
        return fail(`${field}-data is not base64`);
      }
    }
    const file = from[field];
    if (file === undefined || file === "") return undefined;
    if (typeof file !== "string") return fail(`${field} is not a string`);
    return { file: file.startsWith("/") ? file : `${folder}/${file}` };
  };
}

/** The user's credentials, checked, as connection fields. */
function userCredentials(
  user: Record<string, unknown>,
  userName: unknown,
  pem: ReturnType<typeof pemReader>,
  folder: string,
  fail: Fail,
): Omit<KubeConnection, "server" | "ca"> {
  const who = `user ${JSON.stringify(userName)}`;
  const userText = (field: string): string | undefined => {
    const value = user[field];
    if (value === undefined || value === "") return undefined;
    return typeof value === "string"
      ? value
      : fail(`${who}: ${field} is not a string`);
  };
  const tokenFile = userText("tokenFile");
  const username = userText("username");
  const password = userText("password");
  const clientCert = pem(user, "client-certificate");
  const clientKey = pem(user, "client-key");
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    fail(`${who} has a client certificate or key without the other`);
  }
  const token = userText("token");
  const credentialed = clientCert || token || tokenFile || username;
  for (const plugin of ["exec", "auth-provider"]) {
    if (user[plugin] !== undefined && !credentialed) {
      fail(
        `${who} authenticates with ${plugin}, which the agent does not run; give it a client certificate or a token`,
      );
    }
  }
  return {
    ...(clientCert && clientKey ? { clientCert, clientKey } : {}),
    ...(token ? { token } : {}),
    ...(tokenFile
      ? {
        tokenFile: tokenFile.startsWith("/")
          ? tokenFile
          : `${folder}/${tokenFile}`,
      }
      : {}),
    ...(username !== undefined && password !== undefined
      ? { basicAuth: { username, password } }
      : {}),
  };
}

/** What the cluster asks for that the agent does not honour. */
function clusterWarnings(
  cluster: Record<string, unknown> | undefined,
  url: URL,
): string[] {
  const warnings: string[] = [];
  if (
    url.protocol === "https:" && cluster?.["insecure-skip-tls-verify"] === true
  ) {
    warnings.push(
      "insecure-skip-tls-verify is not honoured: the server's certificate is checked against certificate-authority(-data) and the system's roots",
    );
  }
  for (const field of ["proxy-url", "tls-server-name"]) {
    if (cluster?.[field] !== undefined) {
      warnings.push(`cluster ${field} is not honoured`);
    }
  }
  return warnings;
}

/**
 * Reads the grants of a kubeconfig's current context.
 *
 * @param text The kubeconfig (YAML or JSON).
 * @param path Where it is (relative file references resolve against its folder).
 * @throws {TypeError} When it does not parse or lacks a usable current context, cluster or server.
 */
export function kubeconfigAccess(text: string, path: string): KubeconfigAccess {
  const fail: Fail = (message) => {
    throw new TypeError(`Cannot read kubeconfig ${path}: ${message}`);
  };
  const config = decoded(text, fail);
  const contextName = config["current-context"];
  const context = named(config.contexts, contextName, "context") ??
    fail(
      `current-context ${
        JSON.stringify(contextName)
      } is not among its contexts`,
    );
  const cluster = named(config.clusters, context.cluster, "cluster");
  const { url, trimmed } = serverOf(cluster, context.cluster, fail);
  const folder = path.slice(0, path.lastIndexOf("/")) || "/";
  const pem = pemReader(folder, fail);
  const user = named(config.users, context.user, "user") ?? {};
  const ca = url.protocol === "https:"
    ? pem(cluster ?? {}, "certificate-authority")
    : undefined;
  const connection: KubeConnection = {
    server: trimmed,
    ...(ca ? { ca } : {}),
    ...userCredentials(user, context.user, pem, folder, fail),
  };
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return {
    server: connection.server,
    hostPort: `${url.hostname}:${port}`,
    files: connectionFiles(connection),
    connection,
    warnings: clusterWarnings(cluster, url),
  };
}
