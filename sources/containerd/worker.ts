/**
 * Worker entry of the containerd source.
 *
 * @module
 */
import { runSourceWorker } from "../worker_runtime.ts";
import { parseContainerdConfig, watchContainerd } from "./watch_containerd.ts";

runSourceWorker(
  "containerd",
  (config, emit, signal) =>
    watchContainerd(parseContainerdConfig(config), emit, signal),
);
