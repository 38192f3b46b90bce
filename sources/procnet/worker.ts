/**
 * Worker entry of the /proc/net source.
 *
 * @module
 */
import { runSourceWorker } from "../worker/worker_runtime.ts";
import { watchProcNet } from "./watch_proc_net.ts";
import { parseProcNetConfig } from "./config.ts";

runSourceWorker(
  "procnet",
  (config, emit, signal) =>
    watchProcNet(parseProcNetConfig(config), emit, signal),
);
