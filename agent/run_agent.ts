/**
 * The composition root: plans the registry's sources, creates the mode's
 * forwarders, and wires supervisor → tracker → diff router → delivery queue;
 * stops cleanly.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { DeliveryQueue } from "../forwarding/delivery_queue.ts";
import { DiffRouter } from "../forwarding/diff_router.ts";
import type { Forwarder } from "../forwarding/forwarder.ts";
import type {
  AnySourceDescriptor,
  SourceRegistry,
} from "../sources/registry.ts";
import { SOURCES } from "../sources/registry.ts";
import { readsVmSockets } from "../sources/descriptor.ts";
import type { ForwarderRegistry } from "../forwarding/registry.ts";
import type { PortMessage } from "../sources/messages.ts";
import {
  SourceSupervisor,
  type SupervisedSource,
} from "../sources/supervisor.ts";
import { type Clock, systemClock, wallClockMs } from "../support/clock.ts";
import { type OpenFilesLimit, openFilesLimit } from "../support/open_files.ts";
import type { StageProfile, StageStamps } from "../support/stage_profile.ts";
import { PortTracker, type TrackerUpdate } from "../tracker/port_tracker.ts";
import { portRows, statusRows } from "../control/control_view.ts";
import { type ControlState, startControl } from "../control/control_server.ts";
import { createForwarders } from "./create_forwarders.ts";
import { AgentStartError } from "./start_error.ts";
import {
  type DesiredSets,
  desiredSetsOf,
} from "../forwarding/listeners/desired_sets.ts";
import type { AgentOptions } from "./options.ts";
import {
  type MachineProbe,
  planSources,
  type SourcePlan,
  systemProbe,
} from "./plan_sources.ts";
import { type Route, routeFor } from "./routes.ts";
import { stopAgent, type StopReport } from "./stop_agent.ts";
import { VERSION } from "./version.ts";

export { AgentStartError } from "./start_error.ts";
export type { StopReport } from "./stop_agent.ts";

/**
 * What {@linkcode startAgent} may be given instead of the real thing.
 *
 * @example Usage
 * ```ts ignore
 * import { type AgentDependencies, DEFAULT_OPTIONS, type Forwarder, startAgent } from "@guest-agent/agent";
 *
 * const mine: Forwarder = { name: "mine", add: () => Promise.resolve(), remove: () => Promise.resolve() };
 * const dependencies: AgentDependencies = { forwarders: [mine], route: () => ["mine"] };
 * const agent = await startAgent({ ...DEFAULT_OPTIONS, controlSocket: "" }, dependencies);
 * await agent.stop();
 * ```
 */
export interface AgentDependencies {
  /** What auto-mode detection looks at. @default the real machine */
  readonly probe?: MachineProbe;
  /** The agent's one clock. @default systemClock */
  readonly clock?: Clock;
  /** The sources to plan and run. @default SOURCES */
  readonly registry?: SourceRegistry;
  /** Forwarders to use instead of the mode's own (embedding programs, tests). */
  readonly forwarders?: readonly Forwarder[];
  /** The forwarders to make and route to. @default FORWARDERS */
  readonly forwarderRegistry?: ForwarderRegistry;
  /** Which forwarders (by name) get a binding. @default the mode's route from the registry */
  readonly route?: Route;
  /**
   * Sees every checked port message before the tracker applies it
   * (benchmarks, diagnostics). It must not throw.
   */
  readonly onSourceMessage?: (source: string, message: PortMessage) => void;
  /**
   * Collects where the time goes per binding that appears, from the
   * source's event to the forwarder's call (support/stage_profile.ts).
   */
  readonly stageProfile?: StageProfile;
}

/**
 * A running agent.
 *
 * @example Usage
 * ```ts ignore
 * import { DEFAULT_OPTIONS, type RunningAgent, startAgent } from "@guest-agent/agent";
 *
 * const agent: RunningAgent = await startAgent({ ...DEFAULT_OPTIONS, controlSocket: "" });
 * console.log(agent.tracker.bindings().map((binding) => binding.key));
 * console.log(agent.supervisor.status());
 * await agent.stop();
 * ```
 */
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

/** The source name of the bindings the agent holds itself (the Kubernetes API port): what they observe is `agent-own`. */
export const AGENT_SOURCE = "agent";

function logPlans(
  options: AgentOptions,
  plans: readonly SourcePlan[],
): void {
  const logger = getLogger(["guest-agent"]);
  logger.info("guest-agent {version} starting in {mode} mode{dryRun}", {
    version: VERSION,
    mode: options.mode,
    dryRun: options.dryRun ? " (dry run: forwarders only log)" : "",
  });
  for (const plan of plans) {
    const fields = {
      source: plan.name,
      decision: plan.run ? "enabled" : "skipped",
      reason: plan.reason,
    };
    logger.info("source {source}: {decision} ({reason})", fields);
  }
}

/** What the plan step decided: the sources that run and their facts. */
interface RunPlan {
  readonly plans: readonly SourcePlan[];
  readonly running: readonly AnySourceDescriptor[];
  readonly facts: ReadonlyMap<string, object>;
}

/** Plan: which sources run here, logged, and the facts each worker is granted. */
async function planRun(
  options: AgentOptions,
  probe: MachineProbe,
  registry: SourceRegistry,
  libcPath: string | undefined,
): Promise<RunPlan> {
  const plans = await planSources(options, probe, registry);
  logPlans(options, plans);
  const running = registry.filter((source) =>
    plans.some((plan) => plan.name === source.name && plan.run)
  );
  if (running.length === 0) {
    throw new AgentStartError(
      "Cannot start: no source can run here (see the lines above for each source's reason)",
    );
  }
  const facts = new Map<string, object>();
  for (const source of running) {
    facts.set(source.name, {
      libcPath,
      ...await source.gatherFacts?.(options, probe),
    });
  }
  return { plans, running, facts };
}

/** The main thread's pipeline: tracker → router → desired sets → queue. */
interface Pipeline {
  readonly tracker: PortTracker;
  readonly queue: DeliveryQueue;
  readonly desired: DesiredSets;
  readonly router: DiffRouter;
  /** Applies one change to the tracker and routes its diff (never throws). */
  readonly update: (change: TrackerUpdate, stages?: StageStamps) => void;
}

/** Build: the tracker, the queue over `forwarders`, the desired sets and the router. */
function buildPipeline(
  options: AgentOptions,
  dependencies: AgentDependencies,
  forwarders: readonly Forwarder[],
  registry: SourceRegistry,
  machine: {
    readonly limit: OpenFilesLimit | undefined;
    readonly libcPath: string | undefined;
  },
  clock: Clock,
): Pipeline {
  const logger = getLogger(["guest-agent"]);
  const tracker = new PortTracker();
  const profile = dependencies.stageProfile;
  const queue = new DeliveryQueue(forwarders, {
    clock,
    ...profile ? { stageProfile: profile } : {},
  });
  const desired = desiredSetsOf(queue, forwarders, {
    settleMs: options.listenerSettleMs,
    limit: machine.limit,
    libcPath: machine.libcPath,
    ...(dependencies.clock ? { clock: dependencies.clock } : {}),
  });
  const router = new DiffRouter({
    forwarders: queue.forwarders,
    route: dependencies.route ??
      routeFor(options.mode, registry, dependencies.forwarderRegistry),
    want: desired.want,
    unwant: desired.unwant,
    clock,
  });
  const update = (change: TrackerUpdate, stages?: StageStamps) => {
    try {
      const diff = tracker.apply(change);
      if (profile && stages) {
        const tracked = { ...stages, tracked: wallClockMs() };
        for (const { key } of diff.added) {
          profile.open(key, change.source, tracked);
        }
      }
      router.apply(diff);
      if (profile && stages) {
        for (const { key } of diff.added) profile.mark(key, "routed");
      }
    } catch (error) {
      logger.error("{source}: update refused: {error}", {
        source: change.source,
        error: (error as Error).message,
      });
    }
  };
  return { tracker, queue, desired, router, update };
}

/** The sources at work: their supervisor, and the companions' run. */
interface SourcesAtWork {
  readonly supervisor: SourceSupervisor;
  /** Ends the companions. */
  readonly following: AbortController;
  /** Settles when every companion has ended. */
  readonly companions: Promise<unknown>;
}

/** Wire: workers and companions feed the pipeline. */
function superviseSources(
  options: AgentOptions,
  dependencies: AgentDependencies,
  clock: Clock,
  { running, facts }: RunPlan,
  { desired, update }: Pipeline,
): SourcesAtWork {
  const logger = getLogger(["guest-agent"]);
  const supervised = (
    source: AnySourceDescriptor,
    granted: object,
  ): SupervisedSource => ({
    name: source.name,
    module: source.worker.module,
    permissions: source.worker.permissions(options, granted),
    config: source.worker.config(options, granted),
  });
  const ownSocketsVisible = new Set(
    running.filter(readsVmSockets).map((s) => s.name),
  );
  const supervisor = new SourceSupervisor(
    running.filter((source) => !source.companion).map((source) =>
      supervised(source, facts.get(source.name)!)
    ),
    {
      debug: options.debug,
      clock,
      stampStages: dependencies.stageProfile !== undefined,
      onPortMessage: (source, message) => {
        dependencies.onSourceMessage?.(source, message);
        if (
          options.debug && message.type !== "snapshot" &&
          message.observedAt !== undefined
        ) {
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
          ownSocketsVisible.has(source) && message.type !== "remove"
            ? {
              ...message,
              source,
              entries: desired.withoutOwnSockets(message.entries),
            }
            : { ...message, source },
          message.type === "snapshot" ? undefined : message.stages,
        );
      },
    },
  );
  supervisor.start();
  const following = new AbortController();
  const companions = Promise.all(
    running.flatMap((source) =>
      source.companion
        ? [source.companion({
          options,
          mode: options.mode,
          startWorker: (more: object) =>
            supervisor.replace(
              supervised(source, { ...facts.get(source.name), ...more }),
            ),
          hold: (ownerId, entries) =>
            update({ type: "upsert", source: AGENT_SOURCE, ownerId, entries }),
          signal: following.signal,
        })]
        : []
    ),
  );
  return { supervisor, following, companions };
}

/** What the control API reads: the `ports` and `status` answers, built on demand. */
function controlState(
  options: AgentOptions,
  clock: Clock,
  startedAt: number,
  { tracker, queue, desired, router }: Pipeline,
  supervisor: SourceSupervisor,
): ControlState {
  const toWall = (monotonicMs: number) => clock.toWall(monotonicMs);
  return {
    ports: () =>
      portRows(
        tracker.bindings(),
        desired.deliveries(),
        router.appearedAt,
        toWall,
      ),
    status: () => ({
      version: VERSION,
      mode: options.mode,
      pid: Deno.pid,
      uptimeSeconds: Math.round((clock.now() - startedAt) / 1000),
      bindings: tracker.size,
      ...statusRows(
        supervisor.status(),
        queue.forwarders,
        desired.deliveries(),
        tracker.bindings(),
        toWall,
        queue.laneStatus(),
      ),
    }),
  };
}

/**
 * Starts the agent: sources in their workers, the tracker, and the
 * forwarders of the mode. Plan (which sources run), build (the pipeline),
 * wire (sources into it), then the control socket.
 *
 * @param options The agent's options (see {@linkcode parseCommandLine}).
 * @param dependencies Replacements for tests and embedding programs.
 * @returns The running agent.
 * @throws {AgentStartError} When no source can run or the mode's forwarder is missing.
 *
 * @example Usage
 * ```ts ignore
 * import { parseCommandLine, startAgent } from "@guest-agent/agent";
 *
 * const parsed = parseCommandLine(["-docker", "-privilegedService"]);
 * if (parsed.kind === "run") {
 *   const agent = await startAgent(parsed.options);
 *   Deno.addSignalListener("SIGTERM", () => agent.stop());
 * }
 * ```
 */
export async function startAgent(
  options: AgentOptions,
  dependencies: AgentDependencies = {},
): Promise<RunningAgent> {
  const clock = dependencies.clock ?? systemClock;
  const startedAt = clock.now();
  const probe = dependencies.probe ?? systemProbe;
  const registry = dependencies.registry ?? SOURCES;
  const libcPath = probe.libcPath();
  const limit = openFilesLimit();
  const forwarders = dependencies.forwarders ??
    createForwarders(
      options,
      libcPath,
      limit,
      registry,
      dependencies.forwarderRegistry,
    );
  const plan = await planRun(options, probe, registry, libcPath);
  const pipeline = buildPipeline(
    options,
    dependencies,
    forwarders,
    registry,
    { limit, libcPath },
    clock,
  );
  const { tracker, queue, desired } = pipeline;
  const { supervisor, following, companions } = superviseSources(
    options,
    dependencies,
    clock,
    plan,
    pipeline,
  );
  const control = await startControl(
    options.controlSocket,
    controlState(options, clock, startedAt, pipeline, supervisor),
  );

  let stopping: Promise<StopReport> | undefined;
  return {
    plans: plan.plans,
    tracker,
    queue,
    supervisor,
    stop: () =>
      stopping ??= stopAgent({
        bindings: tracker.size,
        shutdownTimeoutMs: options.shutdownTimeoutMs,
        before: async () => {
          following.abort();
          await companions;
          await control?.close();
        },
        supervisor,
        desired,
        queue,
      }),
  };
}
