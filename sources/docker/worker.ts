/**
 * Worker entry of the Docker source.
 *
 * @module
 */
import { runSourceWorker } from "../worker/worker_runtime.ts";
import { watchDocker } from "./watch_docker.ts";
import { parseDockerConfig } from "./config.ts";

runSourceWorker(
  "docker",
  (config, emit, signal) =>
    watchDocker(parseDockerConfig(config), emit, signal),
);
