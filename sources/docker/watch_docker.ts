/**
 * The Docker source's watcher: subscribe to events, snapshot the running
 * containers, then apply each event; reconnect with backoff and a fresh
 * snapshot whenever the stream breaks. A container's create-time ports are
 * learnt at `create` (or whenever it is inspected) and posted the moment it
 * starts, before the engine's answer confirms them (docs/protocols.md,
 * "Docker Engine API").
 *
 * @module
 */
import type { DockerConfig } from "./config.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import type { PortEntry } from "../../binding/binding.ts";
import { keepConnected } from "../worker/keep_connected.ts";
import { KeyedChain } from "../worker/keyed_chain.ts";
import { readLines } from "../worker/read_lines.ts";
import { wallClockMs } from "../../support/clock.ts";
import { stampedNow } from "../../support/stage_profile.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { DockerClient } from "./docker_client.ts";
import {
  type ContainerEvent,
  parseContainerList,
  parseDockerEvent,
  parseDockerInspect,
} from "./parse_docker.ts";
import { sourceLogger } from "../source_log.ts";
import { CreateTimePorts, takenBack } from "./create_time_ports.ts";

/**
 * Longest event line read, in bytes. Event lines carry the container's
 * labels, which dockerd does not bound; a longer line is skipped and the
 * source takes a fresh snapshot instead (level-triggered: nothing is lost).
 */
export const DOCKER_EVENT_LINE_MAX = 16 * 1024 * 1024;

/** Options of {@linkcode watchDocker}. */
export interface WatchDockerOptions {
  /** Time source (backoff sleeps). @default systemClock */
  readonly clock?: Clock;
}

const logger = sourceLogger("docker");

/** How long the inspect that confirms posted ports waits after the start, in ms. */
export const CONFIRM_DELAY_MS = 10;

/** What an inspect tells the watcher about one container. */
interface Inspected {
  /** What it publishes now (none unless it runs). */
  readonly entries: PortEntry[];
  /** Whether it runs. */
  readonly running: boolean;
  /** Its name. */
  readonly name: string;
}

/** The Docker source's state shared by its events in one session. */
interface Watch {
  readonly client: DockerClient;
  readonly known: CreateTimePorts;
  readonly emit: (message: SourceMessageBody) => void;
  readonly signal: AbortSignal;
  /** Time source of the confirmation's wait. */
  readonly clock: Clock;
  /** Counts a misprediction and says so in `status`. */
  readonly mispredicted: () => void;
}

/** Inspects `id`, learning its create-time ports; undefined when it is gone. */
async function inspect(
  watch: Watch,
  id: string,
): Promise<Inspected | undefined> {
  const raw = await watch.client.inspect(id, watch.signal);
  if (raw === undefined) return undefined;
  const inspected = parseDockerInspect(raw);
  watch.known.learn(id, inspected.certain);
  for (const reason of inspected.skipped) {
    logger.warn("docker: container {name} ({id}): skipped port {reason}", {
      name: inspected.name,
      id: id.slice(0, 12),
      reason,
    });
  }
  return {
    entries: inspected.running ? inspected.entries : [],
    running: inspected.running,
    name: inspected.name,
  };
}

async function snapshot(watch: Watch): Promise<PortEntry[]> {
  const ids = parseContainerList(
    await watch.client.listRunning(watch.signal),
  );
  const entries: PortEntry[] = [];
  for (const id of ids) {
    try {
      entries.push(...(await inspect(watch, id))?.entries ?? []);
    } catch (error) {
      if (watch.signal.aborted) throw error;
      logger.error("docker: cannot read container {id}: {error}", {
        id: id.slice(0, 12),
        error: (error as Error).message,
      });
    }
  }
  return entries;
}

/**
 * A start: posts at once what the container's create-time configuration
 * makes certain, then the engine's answer, which confirms it and may add.
 */
async function applyStart(
  watch: Watch,
  event: ContainerEvent,
  observedAt: number,
): Promise<void> {
  const { emit } = watch;
  const posted = watch.known.certain(event.id) ?? [];
  if (posted.length > 0) {
    const stages = stampedNow(undefined, "ports known");
    emit({
      type: "upsert",
      ownerId: event.id,
      entries: [...posted],
      observedAt,
      ...stages ? { stages } : {},
    });
  }
  // The confirmation changes nothing in the common case and is not urgent:
  // at a start the engine, runc and the host side are all busy, and an
  // inspect now would compete with the posted ports on their way out.
  if (posted.length > 0) {
    await sleep(watch.clock, CONFIRM_DELAY_MS, watch.signal);
  }
  const found = await inspect(watch, event.id);
  const stages = stampedNow(undefined, "inspected");
  if (found === undefined) {
    emit({ type: "remove", ownerId: event.id, observedAt });
    return;
  }
  if (found.running) {
    for (const key of takenBack(posted, found.entries)) {
      watch.mispredicted();
      logger.warn(
        "docker: container {name} ({id}) started without {key}, which its configuration made certain and the agent had posted (a misprediction)",
        { name: found.name, id: event.id.slice(0, 12), key },
      );
    }
  }
  emit({
    type: "upsert",
    ownerId: event.id,
    entries: found.entries,
    observedAt,
    ...stages ? { stages } : {},
  });
}

async function applyEvent(
  watch: Watch,
  event: ContainerEvent,
  observedAt: number,
): Promise<void> {
  try {
    switch (event.action) {
      case "create":
        // Learnt before the container runs, so its start posts at once.
        await inspect(watch, event.id);
        return;
      case "start":
        await applyStart(watch, event, observedAt);
        return;
      case "destroy":
      case "remove":
        watch.known.forget(event.id);
        break;
    }
    // Removal needs no inspect: a die/stop/destroy always drops the ports.
    watch.emit({ type: "remove", ownerId: event.id, observedAt });
  } catch (error) {
    if (watch.signal.aborted) throw error;
    logger.error(
      "docker: cannot read {state} container {name} ({id}): {error}",
      {
        state: event.action === "create" ? "created" : "started",
        name: event.name ?? "?",
        id: event.id.slice(0, 12),
        error: (error as Error).message,
      },
    );
  }
}

/**
 * Applies each event of `stream` until it ends (or the watch is aborted).
 * Reading never waits for an inspect; one container's events stay in order
 * (see KeyedChain). An event too long to read is made up for by a fresh
 * snapshot, taken once the events before it are applied; later events wait
 * for it.
 */
async function applyEvents(
  watch: Watch,
  stream: ReadableStream<Uint8Array>,
): Promise<void> {
  const { emit, signal } = watch;
  const chain = new KeyedChain();
  let resnapshot: Promise<void> | undefined;
  const lines = readLines(stream, {
    signal,
    maxBytes: DOCKER_EVENT_LINE_MAX,
    onOversized: (head, bytes) => {
      logger.error(
        "docker: an event line of {bytes} bytes is over the {max}-byte bound ({head}); taking a fresh snapshot instead",
        { bytes, max: DOCKER_EVENT_LINE_MAX, head },
      );
      resnapshot ??= (async () => {
        await chain.settled();
        emit({ type: "snapshot", entries: await snapshot(watch) });
      })().finally(() => resnapshot = undefined);
      resnapshot.catch(() => {}); // awaited (and rethrown) by the loop
    },
  });
  try {
    for await (const line of lines) {
      if (resnapshot) await resnapshot;
      const observedAt = wallClockMs();
      let event: ContainerEvent | undefined;
      try {
        event = parseDockerEvent(line);
      } catch (error) {
        logger.error("docker: {error}", { error: (error as Error).message });
        continue;
      }
      if (event === undefined) continue;
      const found = event;
      chain.run(found.id, () => applyEvent(watch, found, observedAt));
    }
    if (resnapshot) await resnapshot;
  } finally {
    // A snapshot after a reconnect must not be overtaken by an older
    // event's upsert: let those finish first.
    await chain.settled();
    await resnapshot?.catch(() => {});
  }
}

/**
 * Watches one engine until `signal` aborts. Subscribes to events first, then
 * lists and inspects the running containers and emits a snapshot, then one
 * upsert or remove per event. When the engine is missing or the stream
 * breaks, it reports waiting/reconnecting once per change, retries with
 * capped backoff, and starts over with a fresh snapshot.
 *
 * @param config The socket.
 * @param emit Receives snapshot, upsert, remove, status and counters
 *   messages (`mispredictions`: posted bindings the engine took back).
 * @param signal Ends the watch.
 * @param options Clock and timing hook.
 */
export async function watchDocker(
  config: DockerConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: WatchDockerOptions = {},
): Promise<void> {
  const client = new DockerClient(config.socketPath);
  let mispredictions = 0;
  const counters = () =>
    emit({ type: "counters", counters: { mispredictions } });
  const watch: Watch = {
    client,
    known: new CreateTimePorts(),
    emit,
    signal,
    clock: options.clock ?? systemClock,
    mispredicted: () => {
      mispredictions++;
      counters();
    },
  };
  const session = async (connected: () => boolean) => {
    const version = await client.ping(signal);
    const stream = await client.events(signal); // subscribe before listing
    emit({ type: "snapshot", entries: await snapshot(watch) });
    counters();
    if (connected()) {
      logger.info("docker: connected to {socket} (API {version})", {
        socket: config.socketPath,
        version,
      });
    }
    await applyEvents(watch, stream);
    throw new Error("Cannot read more events: the stream ended");
  };
  try {
    await keepConnected(config.socketPath, session, emit, signal, {
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } finally {
    client.close();
  }
}
