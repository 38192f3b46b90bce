/**
 * What the Kubernetes worker needs to be granted, read from a kubeconfig:
 * the API server's host:port and the files the kubeconfig references.
 * Pure; the main thread reads the file.
 *
 * @module
 */
import { load } from "js-yaml";

/** The grants a kubeconfig calls for. */
export interface KubeconfigAccess {
  /** The current context's API server URL. */
  readonly server: string;
  /** Its `host:port` (the port defaulted from the scheme): the net grant. */
  readonly hostPort: string;
  /** Files the current context references (CA, client certificate and key, token file), absolute. */
  readonly files: readonly string[];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

function named(
  list: unknown,
  name: unknown,
  key: string,
): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const item = list.map(record).find((entry) => entry?.name === name);
  return record(item?.[key]);
}

/**
 * Reads the grants of a kubeconfig's current context.
 *
 * @param text The kubeconfig (YAML or JSON).
 * @param path Where it is (relative file references resolve against its folder).
 * @throws {TypeError} When it does not parse or lacks a usable current context, cluster or server.
 */
export function kubeconfigAccess(text: string, path: string): KubeconfigAccess {
  let parsed: unknown;
  try {
    parsed = load(text);
  } catch (error) {
    throw new TypeError(
      `Cannot read kubeconfig ${path}: not YAML: ${
        (error as Error).message.split("\n")[0]
      }`,
    );
  }
  const config = record(parsed);
  if (config === undefined) {
    throw new TypeError(`Cannot read kubeconfig ${path}: not a mapping`);
  }
  const contextName = config["current-context"];
  const context = named(config.contexts, contextName, "context");
  if (context === undefined) {
    throw new TypeError(
      `Cannot read kubeconfig ${path}: current-context ${
        JSON.stringify(contextName)
      } is not among its contexts`,
    );
  }
  const cluster = named(config.clusters, context.cluster, "cluster");
  const server = cluster?.server;
  if (typeof server !== "string") {
    throw new TypeError(
      `Cannot read kubeconfig ${path}: cluster ${
        JSON.stringify(context.cluster)
      } has no server`,
    );
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new TypeError(
      `Cannot read kubeconfig ${path}: server ${
        JSON.stringify(server)
      } is not a URL`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(
      `Cannot read kubeconfig ${path}: server ${server} is not http(s)`,
    );
  }
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const user = named(config.users, context.user, "user") ?? {};
  const folder = path.slice(0, path.lastIndexOf("/")) || "/";
  const files = [
    cluster?.["certificate-authority"],
    user["client-certificate"],
    user["client-key"],
    user.tokenFile,
  ].filter((file): file is string => typeof file === "string" && file !== "")
    .map((file) => file.startsWith("/") ? file : `${folder}/${file}`);
  return { server, hostPort: `${url.hostname}:${port}`, files };
}
