/**
 * The log forwarder's descriptor: auto mode's only forwarder, which takes
 * every binding and logs it.
 *
 * @module
 */
import type { ForwarderDescriptor } from "./descriptor.ts";
import { LogForwarder } from "./log_forwarder.ts";

/** Logs what it would forward: auto mode's forwarder. */
export const logForwarder: ForwarderDescriptor<Record<never, never>> = {
  name: "log",
  options: [],
  defaults: {},
  modes: ["auto"],
  takes: () => true,
  create: () => new LogForwarder("log"),
};
