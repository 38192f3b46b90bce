/**
 * The Kubernetes source: NodePort and LoadBalancer services through the API
 * server's list + watch. See docs/protocols.md, "Kubernetes".
 *
 * @module
 */
import type { SourceDescriptor } from "../descriptor.ts";
import { detectPath, NO_PERMISSIONS, workerModule } from "../descriptor.ts";
import {
  countValue,
  pathValue,
  portValue,
  UsageError,
} from "../../support/option_table.ts";
import { makeBinding } from "../../binding/binding.ts";
import { type KubernetesConfig, PAGE_SIZE_MAX } from "./config.ts";
import { followKubeconfig } from "./main_thread/follow_kubeconfig.ts";
import type { KubeconfigAccess } from "./main_thread/kubeconfig_access.ts";

/** The Kubernetes source's options. */
export interface KubernetesOptions {
  /** Watch Kubernetes NodePort and LoadBalancer services. */
  readonly kubernetes: boolean;
  /** kubeconfig path. */
  readonly kubeconfig: string;
  /** Address Kubernetes service listeners bind to: 0.0.0.0 or 127.0.0.1. */
  readonly k8sServiceListenerAddr: "0.0.0.0" | "127.0.0.1";
  /** Kubernetes API port forwarded on 127.0.0.1 with -kubernetes. */
  readonly k8sApiPort: number;
  /** Services per list page. */
  readonly kubernetesPageSize: number;
}

/** What the current kubeconfig calls for: the worker's grants. */
export interface KubernetesFacts {
  /** The API server, credentials and files of the current context. */
  readonly kubeconfig: KubeconfigAccess;
}

/** The Kubernetes source. */
export const kubernetesSource: SourceDescriptor<
  "kubernetes",
  KubernetesOptions,
  KubernetesConfig,
  KubernetesFacts
> = {
  name: "kubernetes",
  options: [
    {
      key: "kubernetes",
      name: "kubernetes",
      goName: "kubernetes",
      kind: "boolean",
      help: "watch NodePort/LoadBalancer services (Go: -kubernetes)",
      negation: "do not watch Kubernetes",
    },
    {
      key: "kubeconfig",
      name: "kubeconfig",
      goName: "kubeconfig",
      kind: "value",
      valueName: "<path>",
      help: "kubeconfig (Go: -kubeconfig)",
      parse: pathValue("-kubeconfig"),
    },
    {
      key: "k8sServiceListenerAddr",
      name: "k8s-service-listener-addr",
      goName: "k8sServiceListenerAddr",
      kind: "value",
      valueName: "<address>",
      help:
        "address Kubernetes services bind to: 0.0.0.0 or 127.0.0.1 (Go: -k8sServiceListenerAddr)",
      parse: (value) => {
        if (value !== "0.0.0.0" && value !== "127.0.0.1") {
          throw new UsageError(
            `Cannot use ${
              JSON.stringify(value)
            } for -k8sServiceListenerAddr: accepted values are 0.0.0.0 and 127.0.0.1`,
          );
        }
        return value;
      },
    },
    {
      key: "k8sApiPort",
      name: "k8s-api-port",
      goName: "k8sAPIPort",
      kind: "value",
      valueName: "<port>",
      help: "Kubernetes API port forwarded with -kubernetes (Go: -k8sAPIPort)",
      parse: portValue("-k8sAPIPort"),
    },
    {
      key: "kubernetesPageSize",
      name: "kubernetes-page-size",
      kind: "value",
      valueName: "<count>",
      help: "services per list page when (re)listing",
      parse: countValue("--kubernetes-page-size", 1, PAGE_SIZE_MAX),
    },
  ],
  defaults: {
    kubernetes: true,
    kubeconfig: "/etc/rancher/k3s/k3s.yaml",
    k8sServiceListenerAddr: "0.0.0.0",
    k8sApiPort: 6443,
    kubernetesPageSize: 500,
  },
  detect: (options, probe) =>
    detectPath(probe, "kubeconfig", options.kubeconfig),
  worker: {
    module: workerModule("kubernetes", import.meta.url),
    // The API server's host:port and the certificate and token files the
    // kubeconfig references, nothing else: the companion reads the
    // kubeconfig and starts (and restarts when it changes) the worker.
    permissions: (_options, facts) => ({
      ...NO_PERMISSIONS,
      net: [facts.kubeconfig.hostPort],
      read: facts.kubeconfig.files.length ? [...facts.kubeconfig.files] : false,
    }),
    config: (options, facts) => ({
      connection: facts.kubeconfig.connection,
      listenAddress: options.k8sServiceListenerAddr,
      pageSize: options.kubernetesPageSize,
    }),
  },
  observes: "api-services",
  async companion({ options, mode, startWorker, hold, signal }) {
    // With a mode flag, the Go agent forwards the API port itself.
    if (mode !== "auto") {
      hold("kubernetes-api", [{
        ownerId: "kubernetes-api",
        binding: makeBinding("tcp", "127.0.0.1", options.k8sApiPort),
        name: "Kubernetes API",
      }]);
    }
    await followKubeconfig(
      options.kubeconfig,
      (kubeconfig) => startWorker({ kubeconfig }),
      signal,
    );
  },
};
