/**
 * The Docker source's watcher: subscribe to events, snapshot the running
 * containers, then apply each event; reconnect with backoff and a fresh
 * snapshot whenever the stream breaks.
 *
 * @module
 */
import type { DockerConfig } from "./config.ts";
import type { Clock } from "../../support/clock.ts";
import type { PortEntry } from "../../tracker/binding.ts";
import { keepConnected } from "../keep_connected.ts";
import { KeyedChain } from "../keyed_chain.ts";
import { readLines } from "../read_lines.ts";
import { wallClockMs } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker_runtime.ts";
import { DockerClient } from "./docker_client.ts";
import {
  type ContainerEvent,
  parseContainerList,
  parseDockerEvent,
  parseDockerInspect,
} from "./parse_docker.ts";
import { sourceLogger } from "../source_log.ts";

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

async function inspectEntries(
  client: DockerClient,
  id: string,
  signal: AbortSignal,
): Promise<{ entries: PortEntry[]; name: string } | undefined> {
  const raw = await client.inspect(id, signal);
  if (raw === undefined) return undefined;
  const inspected = parseDockerInspect(raw);
  for (const reason of inspected.skipped) {
    logger.warn("docker: container {name} ({id}): skipped port {reason}", {
      name: inspected.name,
      id: id.slice(0, 12),
      reason,
    });
  }
  return {
    entries: inspected.running ? inspected.entries : [],
    name: inspected.name,
  };
}

async function snapshot(
  client: DockerClient,
  signal: AbortSignal,
): Promise<PortEntry[]> {
  const ids = parseContainerList(await client.listRunning(signal));
  const entries: PortEntry[] = [];
  for (const id of ids) {
    try {
      entries.push(
        ...(await inspectEntries(client, id, signal))?.entries ?? [],
      );
    } catch (error) {
      if (signal.aborted) throw error;
      logger.error("docker: cannot read container {id}: {error}", {
        id: id.slice(0, 12),
        error: (error as Error).message,
      });
    }
  }
  return entries;
}

async function applyEvent(
  client: DockerClient,
  event: ContainerEvent,
  observedAt: number,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
): Promise<void> {
  const remove = () => emit({ type: "remove", ownerId: event.id, observedAt });
  if (event.action !== "start") {
    // Removal needs no inspect: a die/stop/destroy always drops the ports.
    remove();
    return;
  }
  try {
    const found = await inspectEntries(client, event.id, signal);
    if (found === undefined) remove();
    else {
      emit({
        type: "upsert",
        ownerId: event.id,
        entries: found.entries,
        observedAt,
      });
    }
  } catch (error) {
    if (signal.aborted) throw error;
    logger.error(
      "docker: cannot read started container {name} ({id}): {error}",
      {
        name: event.name ?? "?",
        id: event.id.slice(0, 12),
        error: (error as Error).message,
      },
    );
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
 * @param emit Receives snapshot, upsert, remove and status messages.
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
  const session = async (connected: () => boolean) => {
    const version = await client.ping(signal);
    const stream = await client.events(signal); // subscribe before listing
    emit({ type: "snapshot", entries: await snapshot(client, signal) });
    if (connected()) {
      logger.info("docker: connected to {socket} (API {version})", {
        socket: config.socketPath,
        version,
      });
    }
    // Reading never waits for an inspect; one container's events stay in
    // order (see KeyedChain).
    const chain = new KeyedChain();
    // An event too long to read is made up for by a fresh snapshot, taken
    // once the events before it are applied; later events wait for it.
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
          emit({ type: "snapshot", entries: await snapshot(client, signal) });
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
        chain.run(
          found.id,
          () => applyEvent(client, found, observedAt, emit, signal),
        );
      }
      if (resnapshot) await resnapshot;
    } finally {
      // A snapshot after a reconnect must not be overtaken by an older
      // event's upsert: let those finish first.
      await chain.settled();
      await resnapshot?.catch(() => {});
    }
    throw new Error("the event stream ended");
  };
  try {
    await keepConnected(config.socketPath, session, emit, signal, {
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } finally {
    client.close();
  }
}
