/**
 * The composition root: plans sources, creates forwarders for the mode,
 * wires supervisor → tracker → router → delivery queue, and stops cleanly.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  DeliveryQueue,
  type DeliveryStatus,
} from "../forwarding/delivery_queue.ts";
import { describeOwners } from "../tracker/describe_owners.ts";
import type { Forwarder } from "../forwarding/forwarder.ts";
import { LogForwarder } from "../forwarding/log_forwarder.ts";
import { ListenerForwarder } from "../forwarding/listeners/listener_forwarder.ts";
import { UnservedGate } from "../forwarding/listeners/unserved_gate.ts";
import { listeningSocketsReader } from "./listening_sockets.ts";
import { type OpenFilesLimit, openFilesLimit } from "../support/open_files.ts";
import { HostSwitchForwarder } from "../forwarding/host_switch/host_switch_forwarder.ts";
import { DnatForwarder } from "../forwarding/dnat/dnat_forwarder.ts";
import { VtunnelForwarder } from "../forwarding/vtunnel/vtunnel_forwarder.ts";
import { parseVtunnelTarget } from "../forwarding/vtunnel_target.ts";
import { libcSocketSender } from "../forwarding/vtunnel/socket_sender.ts";
import { sendOverStream } from "../forwarding/vtunnel/send_message.ts";
import { LIBC_CANDIDATES } from "../support/libc.ts";
import { MODE_FORWARDERS, routeBinding } from "../forwarding/router.ts";
import { type MachineFacts, SOURCE_WORKERS } from "../sources/catalog.ts";
import { followFile } from "./follow_file.ts";
import {
  type ControlServer,
  type ControlState,
  serveControl,
} from "./control_server.ts";
import { portRows, statusRows } from "./control_view.ts";
import {
  type KubeconfigAccess,
  kubeconfigAccess,
} from "./kubeconfig_access.ts";
import type { PortMessage } from "../sources/messages.ts";
import { wallClockMs } from "../support/clock.ts";
import {
  SourceSupervisor,
  type SupervisedSource,
} from "../sources/supervisor.ts";
import { type Clock, systemClock } from "../support/clock.ts";
import { bindingKey, makeBinding, type PortEntry } from "../tracker/binding.ts";
import {
  PortTracker,
  type TrackedBinding,
  type TrackerDiff,
  type TrackerUpdate,
} from "../tracker/port_tracker.ts";
import type { AgentOptions } from "./options.ts";
import {
  type MachineProbe,
  planSources,
  type SourcePlan,
  systemProbe,
} from "./plan_sources.ts";
import { VERSION } from "./version.ts";

/** The agent cannot start with these options; the CLI exits 2. */
export class AgentStartError extends Error {
  /** Creates the error; the message is what the user reads. */
  constructor(message: string) {
    super(message);
    this.name = "AgentStartError";
  }
}

/** What {@linkcode startAgent} may be given instead of the real thing. */
export interface AgentDependencies {
  /** What auto-mode detection looks at. @default the real machine */
  readonly probe?: MachineProbe;
  /** Time source for the queue and supervisor. @default systemClock */
  readonly clock?: Clock;
  /** Forwarders to use instead of the mode's own (embedding programs, tests). */
  readonly forwarders?: readonly Forwarder[];
  /** Sources to run instead of the planned ones (tests). */
  readonly sources?: readonly SupervisedSource[];
  /**
   * Sees every checked port message before the tracker applies it
   * (benchmarks, diagnostics). It must not throw.
   */
  readonly onSourceMessage?: (source: string, message: PortMessage) => void;
}

/** How shutdown went. */
export interface StopReport {
  /** Every forwarded binding was removed in time. */
  readonly clean: boolean;
  /** What could not be removed, per forwarder. */
  readonly leftBehind: readonly DeliveryStatus[];
  /** Sources whose workers did not stop within the grace time (terminated). */
  readonly terminatedSources: readonly string[];
}

/** A running agent. */
export interface RunningAgent {
  /** The sources' decisions, as logged at start. */
  readonly plans: readonly SourcePlan[];
  /** The tracker (read it; do not apply updates behind the agent's back). */
  readonly tracker: PortTracker;
  /** The delivery queue (status of every forwarded binding). */
  readonly queue: DeliveryQueue;
  /** The source supervisor (status of every source). */
  readonly supervisor: SourceSupervisor;
  /** Stops the sources, removes every forwarded binding (bounded by `shutdownTimeoutMs`). */
  stop(): Promise<StopReport>;
}

/** Descriptors kept for everything but listeners (sources, control, forwarders). */
const FD_RESERVE = 256;

/** The source name of bindings the agent adds itself (the Kubernetes API port). */
export const STATIC_SOURCE = "static";

function createForwarders(
  options: AgentOptions,
  facts: MachineFacts,
  limit: OpenFilesLimit | undefined,
): Forwarder[] {
  const names = MODE_FORWARDERS[options.mode];
  if (options.mode === "auto" || options.dryRun) {
    return names.map((name) => new LogForwarder(name));
  }
  return names.map((name): Forwarder => {
    switch (name) {
      case "listeners":
        return new ListenerForwarder(
          limit ? { maxOpen: Math.max(16, limit.soft - FD_RESERVE) } : {},
        );
      case "host-switch":
        return new HostSwitchForwarder({
          baseUrl: options.hostSwitchUrl,
          adminInstall: options.adminInstall,
          tapIp: options.tapInterfaceIp,
          statePath: `${options.stateDir}/host-switch.json`,
        });
      case "dnat":
        return new DnatForwarder();
      case "vtunnel": {
        const target = parseVtunnelTarget(options.vtunnelAddr);
        if (target.transport === "vsock" && facts.libcPath === undefined) {
          throw new AgentStartError(
            `Cannot send to ${options.vtunnelAddr}: vsock goes through libc, and no libc was found (looked in ${
              LIBC_CANDIDATES.join(", ")
            })`,
          );
        }
        return new VtunnelForwarder(target, {
          interfaceName: options.connectInterface,
          ...(facts.libcPath
            ? { send: libcSocketSender(facts.libcPath, sendOverStream) }
            : {}),
        });
      }
      case "log":
        return new LogForwarder(name);
    }
  });
}

function plannedSources(
  plans: readonly SourcePlan[],
  options: AgentOptions,
  facts: MachineFacts,
): SupervisedSource[] {
  return plans.flatMap((plan) => {
    const spec = SOURCE_WORKERS[plan.name];
    // Kubernetes starts once its kubeconfig is read (followKubeconfig).
    if (!plan.run || spec === undefined || plan.name === "kubernetes") {
      return [];
    }
    return [{
      name: plan.name,
      entry: spec.entry,
      permissions: spec.permissions(options, facts),
      config: spec.config(options, facts),
    }];
  });
}

/**
 * Serves the control API unless switched off; a socket that cannot be made
 * (not root, no /run) is logged and the agent runs without it.
 */
async function startControl(
  options: AgentOptions,
  state: ControlState,
): Promise<ControlServer | undefined> {
  if (options.controlSocket === "") return undefined;
  const logger = getLogger(["guest-agent", "control"]);
  try {
    const server = await serveControl(options.controlSocket, state);
    logger.info("control API at {path} (guest-agent ports, status)", {
      path: server.path,
    });
    return server;
  } catch (error) {
    logger.warn(
      "no control API: cannot serve {path}: {error} (guest-agent ports and status will not work; see --control-socket)",
      { path: options.controlSocket, error: (error as Error).message },
    );
    return undefined;
  }
}

/**
 * Reads the kubeconfig whenever it appears or changes and (re)starts the
 * Kubernetes worker with grants for exactly that API server and those
 * files. An unreadable kubeconfig is logged; the running worker stays.
 */
async function followKubeconfig(
  options: AgentOptions,
  facts: MachineFacts,
  start: (source: SupervisedSource) => void,
  signal: AbortSignal,
): Promise<void> {
  const logger = getLogger(["guest-agent", "kubernetes"]);
  const spec = SOURCE_WORKERS.kubernetes!;
  await followFile(options.kubeconfig, (state) => {
    if (state.kind === "missing") {
      logger.info("kubernetes: waiting for the kubeconfig {path}", {
        path: options.kubeconfig,
      });
      return;
    }
    let access: KubeconfigAccess;
    try {
      access = kubeconfigAccess(state.text, options.kubeconfig);
    } catch (error) {
      logger.error("kubernetes: {error}", { error: (error as Error).message });
      return;
    }
    logger.info(
      "kubernetes: kubeconfig {path} read; watching services at {server}",
      { path: options.kubeconfig, server: access.server },
    );
    for (const warning of access.warnings) {
      logger.warn("kubernetes: kubeconfig {path}: {warning}", {
        path: options.kubeconfig,
        warning,
      });
    }
    const granted = { ...facts, kubeconfig: access };
    start({
      name: "kubernetes",
      entry: spec.entry,
      permissions: spec.permissions(options, granted),
      config: spec.config(options, granted),
    });
  }, signal);
}

/**
 * A binary's path on PATH, as the run grant: the path alone, never where its
 * symlinks lead. iptables-save is a symlink to xtables-nft-multi, a
 * multi-call binary that also writes rules; Deno runs a granted symlink
 * without a grant on its target, and a grant on the target would be a grant
 * on every one of its commands.
 */
async function binaryPaths(
  probe: MachineProbe,
  name: string,
): Promise<string[]> {
  const path = await probe.which(name);
  return path === undefined ? [] : [path];
}

/**
 * Starts the agent: sources in their workers, the tracker, and the
 * forwarders of the mode.
 *
 * @param options The agent's options (see {@linkcode parseCommandLine}).
 * @param dependencies Replacements for tests and embedding programs.
 * @returns The running agent.
 * @throws {AgentStartError} When no source can run or the mode's forwarder is missing.
 */
export async function startAgent(
  options: AgentOptions,
  dependencies: AgentDependencies = {},
): Promise<RunningAgent> {
  const logger = getLogger(["guest-agent"]);
  const clock = dependencies.clock ?? systemClock;
  const startedAt = clock.now();
  const toWall = (monotonicMs: number) => clock.toWall(monotonicMs);
  const probe = dependencies.probe ?? systemProbe;
  const facts: MachineFacts = {
    libcPath: probe.libcPath(),
    ...options.iptables
      ? {
        iptablesSave: await binaryPaths(probe, "iptables-save"),
        ip6tablesSave: await binaryPaths(probe, "ip6tables-save"),
      }
      : {},
  };
  const limit = openFilesLimit();
  const forwarders = dependencies.forwarders ??
    createForwarders(options, facts, limit);
  const plans = await planSources(options, probe);
  const sources = dependencies.sources ?? plannedSources(plans, options, facts);
  logger.info("guest-agent {version} starting in {mode} mode{dryRun}", {
    version: VERSION,
    mode: options.mode,
    dryRun: options.dryRun ? " (dry run: forwarders only log)" : "",
  });
  for (const plan of plans) {
    const line = "source {source}: {decision} ({reason})";
    const fields = {
      source: plan.name,
      decision: plan.run ? "enabled" : "skipped",
      reason: plan.reason,
    };
    if (plan.missingButRequested) logger.error(line, fields);
    else logger.info(line, fields);
  }
  const kubernetesPlanned = dependencies.sources === undefined &&
    plans.some((plan) => plan.name === "kubernetes" && plan.run);
  if (sources.length === 0 && !kubernetesPlanned) {
    throw new AgentStartError(
      "Cannot start: no source can run here (see the lines above for each source's reason)",
    );
  }

  const tracker = new PortTracker();
  const queue = new DeliveryQueue(forwarders, {
    ...(dependencies.clock ? { clock: dependencies.clock } : {}),
  });
  const lanes = new Set(queue.forwarders);
  // The listener forwarder's own sockets must never come back in as ports.
  const listeners = forwarders.filter((f) => f instanceof ListenerForwarder);
  const withoutOwnSockets = (entries: readonly PortEntry[]): PortEntry[] => {
    if (listeners.length === 0) return [...entries];
    const own = new Set(listeners.flatMap((f) => f.openKeys()));
    return entries.filter((entry) => !own.has(bindingKey(entry.binding)));
  };

  // A port gets a listener only once nothing in the VM serves it. Each
  // listener takes a descriptor: say so once when they outgrow the limit.
  const listenerLane = listeners[0]?.name;
  if (listenerLane !== undefined && limit !== undefined) {
    logger.info("open-files limit {soft} (hard {hard}): one per listener", {
      soft: limit.soft,
      hard: limit.hard,
    });
  }
  const withListener = new Set<string>();
  let warnedLimit = false;
  const gate = listenerLane === undefined ? undefined : new UnservedGate({
    forwarder: listenerLane,
    settleMs: options.listenerSettleMs,
    ...(dependencies.clock ? { clock: dependencies.clock } : {}),
    pass: (binding) => {
      withListener.add(binding.key);
      if (
        !warnedLimit && limit !== undefined &&
        withListener.size > limit.soft - FD_RESERVE
      ) {
        warnedLimit = true;
        logger.warn(
          "{count} ports want listeners, more than the open-files limit {soft} leaves room for: raise it (LimitNOFILE= in the systemd unit, rc_ulimit in the OpenRC script); the rest are retried",
          { count: withListener.size, soft: limit.soft },
        );
      }
      queue.setDesired(listenerLane, binding);
    },
    withdraw: (key) => {
      withListener.delete(key);
      queue.unsetDesired(listenerLane, key);
    },
    listening: listeningSocketsReader(facts.libcPath),
  });
  const want = (lane: string, binding: TrackedBinding) =>
    lane === listenerLane
      ? gate!.want(binding)
      : queue.setDesired(lane, binding);
  const unwant = (lane: string, key: string) =>
    lane === listenerLane ? gate!.unwant(key) : queue.unsetDesired(lane, key);
  const deliveries = () => [...queue.status(), ...gate?.status() ?? []];

  // When each binding appeared (clock ms), for `ports`.
  const appearedAt = new Map<string, number>();
  const applyDiff = (diff: TrackerDiff) => {
    for (const binding of diff.added) appearedAt.set(binding.key, clock.now());
    for (const gone of diff.removed) {
      appearedAt.delete(gone.key);
      logger.info("{key} gone (last held by {owners})", {
        key: gone.key,
        owners: describeOwners(gone),
      });
      for (const lane of lanes) unwant(lane, gone.key);
    }
    for (const binding of diff.added) {
      logger.info("{key} appeared (held by {owners})", {
        key: binding.key,
        owners: describeOwners(binding),
      });
    }
    for (const binding of [...diff.added, ...diff.changed]) {
      const routes = new Set<string>(
        dependencies.forwarders ? lanes : routeBinding(options.mode, binding),
      );
      for (const lane of lanes) {
        if (routes.has(lane)) want(lane, binding);
        else unwant(lane, binding.key);
      }
    }
  };
  const update = (change: TrackerUpdate) => {
    try {
      applyDiff(tracker.apply(change));
    } catch (error) {
      logger.error("{source}: update refused: {error}", {
        source: change.source,
        error: (error as Error).message,
      });
    }
  };

  if (options.mode !== "auto" && options.kubernetes) {
    update({
      type: "upsert",
      source: STATIC_SOURCE,
      ownerId: "kubernetes-api",
      entries: [{
        ownerId: "kubernetes-api",
        binding: makeBinding("tcp", "127.0.0.1", options.k8sApiPort),
        name: "Kubernetes API",
      }],
    });
  }

  const supervisor = new SourceSupervisor(sources, {
    debug: options.debug,
    ...(dependencies.clock ? { clock: dependencies.clock } : {}),
    onPortMessage: (source, message) => {
      dependencies.onSourceMessage?.(source, message);
      if (message.type !== "snapshot" && message.observedAt !== undefined) {
        logger.debug(
          "{source}: {type} of {owner}, {lag} ms after it was seen",
          {
            source,
            type: message.type,
            owner: message.ownerId,
            lag: (wallClockMs() - message.observedAt).toFixed(2),
          },
        );
      }
      update(
        source === "procnet" && message.type !== "remove"
          ? { ...message, source, entries: withoutOwnSockets(message.entries) }
          : { ...message, source },
      );
    },
  });
  supervisor.start();
  const following = new AbortController();
  const followed = kubernetesPlanned
    ? followKubeconfig(
      options,
      facts,
      (source) => supervisor.replace(source),
      following.signal,
    )
    : Promise.resolve();

  const control = await startControl(options, {
    ports: () => portRows(tracker.bindings(), deliveries(), appearedAt, toWall),
    status: () => ({
      version: VERSION,
      mode: options.mode,
      pid: Deno.pid,
      uptimeSeconds: Math.round((clock.now() - startedAt) / 1000),
      bindings: tracker.size,
      ...statusRows(
        supervisor.status(),
        queue.forwarders,
        deliveries(),
        tracker.bindings(),
        toWall,
        queue.laneStatus(),
      ),
    }),
  });

  let stopping: Promise<StopReport> | undefined;
  const stop = async (): Promise<StopReport> => {
    logger.info("stopping: removing {count} forwarded bindings", {
      count: tracker.size,
    });
    following.abort();
    await followed;
    await control?.close();
    const terminatedSources = await supervisor.stop(1_000);
    gate?.close();
    queue.clearDesired();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), options.shutdownTimeoutMs);
    await queue.settled(deadline.signal);
    // A host side that can be read says itself that nothing of ours is left.
    const confirmed = await queue.confirm(deadline.signal);
    clearTimeout(timer);
    const leftBehind = queue.status();
    const unread = queue.laneStatus().filter((lane) =>
      lane.readError !== undefined
    );
    await queue.close();
    if (!confirmed && leftBehind.length === 0) {
      logger.error(
        "could not confirm within {ms} ms that the host side holds none of our bindings: {reasons}",
        {
          ms: options.shutdownTimeoutMs,
          reasons: unread.map((lane) => `${lane.forwarder}: ${lane.readError}`)
            .join("; ") || "no answer",
        },
      );
    } else if (leftBehind.length > 0) {
      logger.error(
        "could not remove {count} bindings within {ms} ms: {bindings}",
        {
          count: leftBehind.length,
          ms: options.shutdownTimeoutMs,
          bindings: leftBehind.map((row) =>
            `${row.forwarder} ${row.key}${
              row.lastError ? ` (${row.lastError})` : ""
            }`
          ).join("; "),
        },
      );
    } else logger.info("stopped; every forwarded binding was removed");
    return {
      clean: confirmed && leftBehind.length === 0,
      leftBehind,
      terminatedSources,
    };
  };
  return {
    plans,
    tracker,
    queue,
    supervisor,
    stop: () => stopping ??= stop(),
  };
}
