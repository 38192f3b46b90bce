/**
 * Worker entry of the iptables source.
 *
 * @module
 */
import { runSourceWorker } from "../worker/worker_runtime.ts";
import { watchIptables } from "./watch_iptables.ts";
import { parseIptablesConfig } from "./config.ts";

runSourceWorker(
  "iptables",
  (config, emit, signal) =>
    watchIptables(parseIptablesConfig(config), emit, signal),
);
