/**
 * Worker entry of the Docker source.
 *
 * @module
 */
import { runSourceWorker } from "../worker_runtime.ts";
import { parseDockerConfig, watchDocker } from "./watch_docker.ts";

runSourceWorker(
  "docker",
  (config, emit, signal) =>
    watchDocker(parseDockerConfig(config), emit, signal),
);
