/**
 * Worker entry of the iptables source.
 *
 * @module
 */
import { runSourceWorker } from "../worker_runtime.ts";
import { parseIptablesConfig, watchIptables } from "./watch_iptables.ts";

runSourceWorker(
  "iptables",
  (config, emit, signal) =>
    watchIptables(parseIptablesConfig(config), emit, signal),
);
