/**
 * Worker entry of the Kubernetes source. `process.env` is narrowed before
 * @kubernetes/client-node loads (it enumerates the environment), so the
 * worker needs no env grant; the watcher is imported after that.
 *
 * @module
 */
import process from "node:process";
import { narrowProcessEnv } from "../../support/process_env.ts";
import { runSourceWorker } from "../worker_runtime.ts";

narrowProcessEnv([]);
// node-fetch's URL stack warns that punycode is deprecated: not ours to fix.
process.noDeprecation = true;

runSourceWorker("kubernetes", async (config, emit, signal) => {
  const { parseKubernetesConfig, watchKubernetes } = await import(
    "./watch_kubernetes.ts"
  );
  await watchKubernetes(parseKubernetesConfig(config), emit, signal);
});
