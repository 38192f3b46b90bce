/**
 * The Kubernetes worker's configuration: the type the main thread sends
 * (sources/kubernetes/source.ts) and the check the worker reads it back with.
 *
 * @module
 */
import {
  type KubeConnection,
  parseKubeConnection,
} from "./main_thread/kube_connection.ts";

/** Where service ports are listened on: `-k8sServiceListenerAddr`. */
export type ServiceListenAddress = "0.0.0.0" | "127.0.0.1";

/** Configuration of the Kubernetes source. */
export interface KubernetesConfig {
  /** The API server and credentials (from the kubeconfig's current context). */
  readonly connection: KubeConnection;
  /** Host address of every service binding. */
  readonly listenAddress: ServiceListenAddress;
  /** Services per list page (`--kubernetes-page-size`). */
  readonly pageSize: number;
}

/** The most services one list page may ask for. */
export const PAGE_SIZE_MAX = 10_000;

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a field is missing or wrong.
 */
export function parseKubernetesConfig(
  raw: Readonly<Record<string, unknown>>,
): KubernetesConfig {
  const { listenAddress } = raw;
  if (listenAddress !== "0.0.0.0" && listenAddress !== "127.0.0.1") {
    throw new TypeError(
      "Cannot configure kubernetes: listenAddress must be 0.0.0.0 or 127.0.0.1",
    );
  }
  const { pageSize } = raw;
  if (
    typeof pageSize !== "number" || !Number.isInteger(pageSize) ||
    pageSize < 1 || pageSize > PAGE_SIZE_MAX
  ) {
    throw new TypeError(
      `Cannot configure kubernetes: pageSize must be a whole number from 1 to ${PAGE_SIZE_MAX}`,
    );
  }
  return {
    connection: parseKubeConnection(raw.connection),
    listenAddress,
    pageSize,
  };
}
