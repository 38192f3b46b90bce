/**
 * Worker entry of the containerd source.
 *
 * @module
 */
import { runSourceWorker } from "../worker/worker_runtime.ts";
import { watchContainerd } from "./watch_containerd.ts";
import { parseContainerdConfig } from "./config.ts";

runSourceWorker(
  "containerd",
  (config, emit, signal) =>
    watchContainerd(parseContainerdConfig(config), emit, signal),
);
