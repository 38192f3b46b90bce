/**
 * Worker entry of the Kubernetes source: list + watch of services over
 * Deno's fetch, with net access to the API server only and read access to
 * the certificate and token files the kubeconfig references.
 *
 * @module
 */
import { runSourceWorker } from "../worker/worker_runtime.ts";
import { watchKubernetes } from "./watch_kubernetes.ts";
import { parseKubernetesConfig } from "./config.ts";

runSourceWorker("kubernetes", async (config, emit, signal) => {
  await watchKubernetes(parseKubernetesConfig(config), emit, signal);
});
