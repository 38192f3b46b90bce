/**
 * The containerd source: containerd's gRPC events and nerdctl's port labels.
 * See docs/protocols.md, "containerd".
 *
 * @module
 */
import type { SourceDescriptor } from "../descriptor.ts";
import { detectPath, NO_PERMISSIONS, workerModule } from "../descriptor.ts";
import { pathValue } from "../../support/option_table.ts";
import type { ContainerdConfig } from "./config.ts";

/** The containerd source's options. */
export interface ContainerdOptions {
  /** Watch containerd events. */
  readonly containerd: boolean;
  /** containerd socket path. */
  readonly containerdSocket: string;
  /** nerdctl's data root: containers' state dirs (network-config.json) under it are read. */
  readonly nerdctlDataRoot: string;
}

/** The environment variables @grpc/grpc-js reads (logging, TLS, proxies). */
export const GRPC_ENV_NAMES: readonly string[] = [
  "GRPC_VERBOSITY",
  "GRPC_NODE_VERBOSITY",
  "GRPC_TRACE",
  "GRPC_NODE_TRACE",
  "GRPC_SSL_CIPHER_SUITES",
  "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
  "GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION",
  "GRPC_NODE_USE_ALTERNATIVE_RESOLVER",
  "GRPC_NODE_DEBUG_SEND_ERROR_DETAILS",
];

/** The containerd source. */
export const containerdSource: SourceDescriptor<
  "containerd",
  ContainerdOptions,
  ContainerdConfig
> = {
  name: "containerd",
  options: [
    {
      key: "containerd",
      name: "containerd",
      goName: "containerd",
      kind: "boolean",
      help: "watch containerd events (Go: -containerd)",
      negation: "do not watch containerd",
    },
    {
      key: "containerdSocket",
      name: "containerd-sock",
      goName: "containerdSock",
      kind: "value",
      valueName: "<path>",
      help: "containerd socket (Go: -containerdSock)",
      parse: pathValue("-containerdSock"),
    },
    {
      key: "nerdctlDataRoot",
      name: "nerdctl-data-root",
      kind: "value",
      valueName: "<path>",
      help:
        "nerdctl's data root: the containerd source may read network-config.json of containers' state dirs under it",
      parse: pathValue("--nerdctl-data-root"),
    },
  ],
  defaults: {
    containerd: true,
    containerdSocket: "/run/k3s/containerd/containerd.sock",
    nerdctlDataRoot: "/var/lib/nerdctl",
  },
  detect: (options, probe) =>
    detectPath(probe, "socket", options.containerdSocket),
  worker: {
    module: workerModule("containerd", import.meta.url),
    // The socket (read, write, net unix:<path>), nerdctl's state dirs for
    // network-config.json, and the variables grpc-js reads at import.
    permissions: (options) => ({
      ...NO_PERMISSIONS,
      read: [options.containerdSocket, options.nerdctlDataRoot],
      write: [options.containerdSocket],
      net: [`unix:${options.containerdSocket}`],
      env: [...GRPC_ENV_NAMES],
    }),
    config: (options) => ({
      socketPath: options.containerdSocket,
      nerdctlDataRoot: options.nerdctlDataRoot,
    }),
  },
  observes: "engine-ports",
};
