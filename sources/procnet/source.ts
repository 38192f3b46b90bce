/**
 * The /proc/net source: listening sockets of this network namespace, read
 * through sock_diag or /proc/net/{tcp,udp}{,6}. See docs/protocols.md,
 * "/proc/net".
 *
 * @module
 */
import type { SourceDescriptor } from "../descriptor.ts";
import { NO_PERMISSIONS, workerModule } from "../descriptor.ts";
import { msValue, portValue } from "../../support/option_table.ts";
import { PROCESS_MAPS } from "../../support/libc.ts";
import {
  PROC_NET_ROOT,
  PROCNET_RESCAN_MS,
  type ProcNetConfig,
} from "./config.ts";

/** The /proc/net source's options. */
export interface ProcNetOptions {
  /** Scan /proc/net for listening sockets. */
  readonly procnet: boolean;
  /** /proc/net scan interval in ms when polling. */
  readonly procnetIntervalMs: number;
  /** Wake the /proc/net scan on kernel tracepoints when they can be had. */
  readonly procnetEvents: boolean;
  /** Safety-net /proc/net rescan interval in ms with kernel events. */
  readonly procnetRescanMs: number;
  /** Host ports never to forward. */
  readonly ignorePorts: readonly number[];
}

/** The /proc/net source. */
export const procnetSource: SourceDescriptor<
  "procnet",
  ProcNetOptions,
  ProcNetConfig
> = {
  name: "procnet",
  options: [
    {
      key: "procnet",
      name: "procnet",
      kind: "boolean",
      help: "scan /proc/net for listening sockets",
      negation: "do not scan /proc/net",
    },
    {
      key: "procnetIntervalMs",
      name: "procnet-interval",
      kind: "value",
      valueName: "<ms>",
      help: "time between /proc/net scans when polling (no kernel events)",
      parse: msValue("--procnet-interval", 10),
    },
    {
      key: "procnetEvents",
      name: "procnet-events",
      kind: "boolean",
      help:
        "scan /proc/net when kernel tracepoints say a listener came or went (root, tracefs)",
      negation: "poll /proc/net at --procnet-interval instead",
    },
    {
      key: "procnetRescanMs",
      name: "procnet-rescan",
      kind: "value",
      valueName: "<ms>",
      help: "safety-net /proc/net rescan interval with kernel events",
      parse: msValue("--procnet-rescan", 100),
    },
    {
      key: "ignorePorts",
      name: "ignore-port",
      kind: "repeated",
      valueName: "<port>",
      help: "a host port never to forward (repeat for more)",
      parse: portValue("--ignore-port"),
    },
  ],
  // Rancher Desktop's agent today scans /proc/net in its one mode
  // (host-switch): a VM process's listener is exposed like a container's.
  onWithoutFlag: (mode) => mode === "host-switch",
  defaults: {
    procnet: true,
    procnetIntervalMs: 1000,
    procnetEvents: true,
    procnetRescanMs: PROCNET_RESCAN_MS,
    ignorePorts: [],
  },
  async detect(_options, probe) {
    if (!await probe.exists("/proc/net/tcp")) {
      return { ok: false, reason: "/proc/net/tcp does not exist" };
    }
    const libc = probe.libcPath();
    return libc
      ? { ok: true, reason: `/proc/net exists; read through ${libc}` }
      : {
        ok: false,
        reason: `no single libc in ${PROCESS_MAPS} to read /proc/net through`,
      };
  },
  worker: {
    module: workerModule("procnet", import.meta.url),
    // Deno refuses to read /proc/net (it is /proc/self/net) without
    // --allow-all, so the worker reads through libc: FFI for that one file,
    // which also opens the perf tracepoints (no other permission).
    permissions: (_options, facts) => ({
      ...NO_PERMISSIONS,
      ffi: facts.libcPath ? [facts.libcPath] : false,
    }),
    config: (options, facts) => ({
      root: PROC_NET_ROOT,
      intervalMs: options.procnetIntervalMs,
      events: options.procnetEvents,
      rescanMs: options.procnetRescanMs,
      ignorePorts: [...options.ignorePorts],
      ...(facts.libcPath ? { libcPath: facts.libcPath } : {}),
    }),
  },
  // WSL relays real listening sockets by itself: nothing to add there.
  // In host-switch mode a listener on 127.0.0.1, [::1] or [::] also needs
  // the loopback relay: host-switch connects to the tap address.
  observes: "vm-sockets",
};
