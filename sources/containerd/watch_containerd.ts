/**
 * The containerd source's watcher: wait for the health service, subscribe to
 * task and container events in every namespace, snapshot the running
 * containers' published ports, then apply each event; reconnect with backoff
 * and a fresh snapshot whenever the stream breaks (containerd restarted).
 *
 * @module
 */
import type { ContainerdConfig } from "./config.ts";
import type { Clock } from "../../support/clock.ts";
import type { PortEntry } from "../../binding/binding.ts";
import { keepConnected } from "../worker/keep_connected.ts";
import { KeyedChain } from "../worker/keyed_chain.ts";
import { wallClockMs } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { ContainerdClient, isTooLarge } from "./containerd_client.ts";
import { ContainerLookahead } from "./container_lookahead.ts";
import {
  CONTAINERD_TOPICS,
  type ContainerdEvent,
  type ContainerRecord,
  isLiveTask,
  parseContainerdEvent,
} from "./parse_event.ts";
import {
  containerOwner,
  type ContainerPorts,
  MAX_PORTS_TEXT,
  NETWORK_CONFIG_FILE,
  parseNerdctlPortsLabel,
  parseNetworkConfig,
  PORTS_LABEL,
  portsLocation,
  STATE_DIR_LABEL,
} from "./nerdctl_ports.ts";
import { sourceLogger } from "../source_log.ts";

/** Options of {@linkcode watchContainerd}. */
export interface WatchContainerdOptions {
  /** Time source (backoff sleeps). @default systemClock */
  readonly clock?: Clock;
}

/** Containers that may publish ports: a list filter OR'd in containerd. */
const PUBLISHING_FILTERS = [
  `labels.${JSON.stringify(PORTS_LABEL)}`,
  `labels.${JSON.stringify(STATE_DIR_LABEL)}`,
];

const logger = sourceLogger("containerd");

/** What the list filters keep: a container with either publishing label. */
function publishes(container: ContainerRecord): boolean {
  return container.labels[PORTS_LABEL] !== undefined ||
    container.labels[STATE_DIR_LABEL] !== undefined;
}

function isInside(path: string, root: string): boolean {
  return !path.split("/").includes("..") &&
    (root === "/" || path === root || path.startsWith(`${root}/`));
}

async function readNetworkConfig(
  dir: string,
  config: ContainerdConfig,
): Promise<string> {
  if (!dir.startsWith("/") || !isInside(dir, config.nerdctlDataRoot)) {
    throw new TypeError(
      `Cannot read state dir ${
        JSON.stringify(dir.slice(0, 200))
      }: it is outside --nerdctl-data-root ${config.nerdctlDataRoot}`,
    );
  }
  const path = `${dir}/${NETWORK_CONFIG_FILE}`;
  using file = await Deno.open(path);
  const { size } = await file.stat();
  if (size > MAX_PORTS_TEXT) {
    throw new TypeError(
      `Cannot read ${path}: it is ${size} bytes, more than the ${MAX_PORTS_TEXT} accepted`,
    );
  }
  return await new Response(file.readable).text();
}

/**
 * A container's published ports, from its label or its network-config.json.
 * Returns undefined when they cannot be read; that is logged with the
 * container's namespace and id, and the container is skipped.
 */
async function containerPorts(
  namespace: string,
  container: ContainerRecord,
  config: ContainerdConfig,
): Promise<ContainerPorts | undefined> {
  const owner = containerOwner(namespace, container);
  const location = portsLocation(container.labels);
  let ports: ContainerPorts;
  try {
    switch (location.kind) {
      case "label":
        ports = parseNerdctlPortsLabel(location.text, owner);
        break;
      case "state-dir":
        ports = parseNetworkConfig(
          await readNetworkConfig(location.dir, config),
          owner,
        );
        break;
      default:
        return { entries: [], skipped: [] };
    }
  } catch (error) {
    logger.error(
      "containerd: container {namespace}/{id}: cannot read its ports, skipped: {error}",
      { namespace, id: container.id, error: (error as Error).message },
    );
    return undefined;
  }
  for (const reason of ports.skipped) {
    logger.warn(
      "containerd: container {namespace}/{id}: skipped port {reason}",
      { namespace, id: container.id, reason },
    );
  }
  return ports;
}

async function snapshotNamespace(
  client: ContainerdClient,
  namespace: string,
  config: ContainerdConfig,
  signal: AbortSignal,
): Promise<PortEntry[]> {
  const [containers, tasks] = await Promise.all([
    client.listContainers(namespace, PUBLISHING_FILTERS, signal),
    client.listTasks(namespace, signal),
  ]);
  const live = new Set(
    // Tasks/List names each task's container in `id` (the init process's
    // id), leaving container_id empty.
    tasks.filter((task) => isLiveTask(task.status)).map((task) =>
      task.container_id || task.id
    ),
  );
  const entries: PortEntry[] = [];
  for (const container of containers) {
    if (!live.has(container.id)) continue;
    entries.push(
      ...(await containerPorts(namespace, container, config))?.entries ?? [],
    );
  }
  return entries;
}

/**
 * The snapshot of one namespace one container at a time, for a namespace
 * whose container list is larger than a reply may be: each running task's
 * container is read alone, and one that cannot be read (larger than a
 * reply by itself, or failing) is skipped with a warning naming it; its
 * next event reads it again.
 */
async function snapshotNamespaceByContainer(
  client: ContainerdClient,
  namespace: string,
  config: ContainerdConfig,
  signal: AbortSignal,
): Promise<PortEntry[]> {
  const tasks = await client.listTasks(namespace, signal);
  const entries: PortEntry[] = [];
  for (const task of tasks) {
    if (!isLiveTask(task.status)) continue;
    const id = task.container_id || task.id;
    try {
      const container = await client.getContainer(namespace, id, signal);
      if (container === undefined || !publishes(container)) continue;
      entries.push(
        ...(await containerPorts(namespace, container, config))?.entries ?? [],
      );
    } catch (error) {
      if (signal.aborted) throw error;
      logger.warn(
        "containerd: container {namespace}/{id} cannot be read, skipped until its next event: {error}",
        { namespace, id, error: (error as Error).message },
      );
    }
  }
  return entries;
}

/** Every running container's entries, in every namespace. */
async function snapshot(
  client: ContainerdClient,
  config: ContainerdConfig,
  signal: AbortSignal,
): Promise<PortEntry[]> {
  const namespaces = await client.listNamespaces(signal);
  const perNamespace = await Promise.all(
    namespaces.map(async (namespace) => {
      try {
        return await snapshotNamespace(client, namespace, config, signal);
      } catch (error) {
        if (!isTooLarge(error)) throw error;
        logger.warn(
          "containerd: the container list of namespace {namespace} is larger than a reply may be ({error}); reading its containers one at a time",
          { namespace, error: (error as Error).message },
        );
        return await snapshotNamespaceByContainer(
          client,
          namespace,
          config,
          signal,
        );
      }
    }),
  );
  return perNamespace.flat();
}

/** What applying an event needs besides the event. */
interface EventContext {
  readonly client: ContainerdClient;
  readonly lookahead: ContainerLookahead;
  readonly config: ContainerdConfig;
  readonly emit: (message: SourceMessageBody) => void;
  readonly signal: AbortSignal;
}

async function applyEvent(
  event: ContainerdEvent,
  observedAt: number,
  context: EventContext,
): Promise<void> {
  const { client, lookahead, config, emit, signal } = context;
  const { namespace, containerId } = event;
  const ownerId = `${namespace}/${containerId}`;
  const remove = () => emit({ type: "remove", ownerId, observedAt });
  switch (event.kind) {
    case "created":
      return lookahead.readAhead(namespace, containerId);
    case "stopped":
    case "deleted":
      lookahead.forget(namespace, containerId);
      return remove();
    case "exec-exited":
      logger.debug(
        "containerd: exec {exec} of {namespace}/{id} exited; ports stay",
        { exec: event.execId, namespace, id: containerId },
      );
      return;
    case "updated":
      lookahead.forget(namespace, containerId);
  }
  try {
    const [container, task] = await Promise.all([
      event.kind === "started"
        ? lookahead.take(namespace, containerId)
        : client.getContainer(namespace, containerId, signal),
      // A start needs no task lookup: the task is running. An update
      // changes ports only of a container whose task is live.
      event.kind === "updated"
        ? client.getTask(namespace, containerId, signal)
        : undefined,
    ]);
    const live = event.kind === "started" ||
      (task !== undefined && isLiveTask(task.status));
    if (container === undefined || !live) return remove();
    const ports = await containerPorts(namespace, container, config);
    if (ports === undefined) return; // logged; what is tracked stays
    emit({ type: "upsert", ownerId, entries: ports.entries, observedAt });
  } catch (error) {
    if (signal.aborted) throw error;
    logger.error(
      "containerd: cannot read container {namespace}/{id} after {kind}: {error}",
      {
        namespace,
        id: containerId,
        kind: event.kind,
        error: (error as Error).message,
      },
    );
  }
}

async function assertSocket(path: string): Promise<void> {
  try {
    const info = await Deno.stat(path);
    if (!info.isSocket) {
      throw new Error(`Cannot connect: ${path} is not a socket`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("Cannot connect: no socket yet");
    }
    throw error;
  }
}

/**
 * Watches one containerd until `signal` aborts: waits for the health service
 * to say SERVING, subscribes (every namespace), emits a snapshot of the
 * running containers' ports, then one upsert or remove per event. When the
 * daemon is missing, starting or restarts, it reports waiting/reconnecting
 * once per change, retries with capped backoff on a fresh connection, and
 * starts over with a fresh snapshot.
 *
 * @param config The socket and nerdctl's data root.
 * @param emit Receives snapshot, upsert, remove and status messages.
 * @param signal Ends the watch.
 * @param options Clock.
 */
export async function watchContainerd(
  config: ContainerdConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: WatchContainerdOptions = {},
): Promise<void> {
  const session = async (connected: () => boolean) => {
    await assertSocket(config.socketPath);
    // A fresh client per session: grpc-js' own reconnect backoff grows to
    // two minutes; ours is capped at ten seconds.
    const client = new ContainerdClient(config.socketPath);
    const subscription = client.subscribe(CONTAINERD_TOPICS);
    const cancel = () => subscription.cancel();
    signal.addEventListener("abort", cancel, { once: true });
    const chain = new KeyedChain();
    const lookahead = new ContainerLookahead((namespace, id) =>
      client.getContainer(namespace, id, signal)
    );
    const context = { client, lookahead, config, emit, signal };
    try {
      const health = await client.health(signal);
      if (health !== "SERVING") {
        throw new Error(`Cannot watch yet: containerd's health is ${health}`);
      }
      emit({
        type: "snapshot",
        entries: await snapshot(client, config, signal),
      });
      if (connected()) {
        logger.info("containerd: connected to {socket}", {
          socket: config.socketPath,
        });
      }
      for await (const envelope of subscription) {
        const observedAt = wallClockMs();
        let event: ContainerdEvent | undefined;
        try {
          event = parseContainerdEvent(envelope);
        } catch (error) {
          logger.error("containerd: {error}", {
            error: (error as Error).message,
          });
          continue;
        }
        if (event === undefined) continue;
        const found = event;
        chain.run(
          `${found.namespace}/${found.containerId}`,
          () => applyEvent(found, observedAt, context),
        );
      }
      throw new Error("Cannot read more events: the stream ended");
    } finally {
      signal.removeEventListener("abort", cancel);
      subscription.cancel();
      // A snapshot after a reconnect must not be overtaken by an older
      // event's upsert: let those finish first.
      await chain.settled();
      client.close();
    }
  };
  await keepConnected(config.socketPath, session, emit, signal, {
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
