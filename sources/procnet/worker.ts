/**
 * Worker entry of the /proc/net source.
 *
 * @module
 */
import { runSourceWorker } from "../worker_runtime.ts";
import { parseProcNetConfig, watchProcNet } from "./watch_proc_net.ts";

runSourceWorker(
  "procnet",
  (config, emit, signal) =>
    watchProcNet(parseProcNetConfig(config), emit, signal),
);
