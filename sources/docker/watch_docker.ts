/**
 * The Docker source's watcher: subscribe to events, snapshot the running
 * containers, then apply each event; reconnect with backoff and a fresh
 * snapshot whenever the stream breaks.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { backoffDelay } from "../../support/backoff.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import type { PortEntry } from "../../tracker/binding.ts";
import { readLines } from "../read_lines.ts";
import { wallClockMs } from "../messages.ts";
import type { SourceMessageBody } from "../worker_runtime.ts";
import { DockerClient } from "./docker_client.ts";
import {
  type ContainerEvent,
  parseContainerList,
  parseDockerEvent,
  parseDockerInspect,
} from "./parse_docker.ts";

/** Configuration of the Docker source. */
export interface DockerConfig {
  /** The engine's unix socket. */
  readonly socketPath: string;
}

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When the socket path is not absolute.
 */
export function parseDockerConfig(
  raw: Readonly<Record<string, unknown>>,
): DockerConfig {
  const socketPath = raw.socketPath;
  if (typeof socketPath !== "string" || !socketPath.startsWith("/")) {
    throw new TypeError(
      "Cannot configure docker: socketPath must be an absolute path",
    );
  }
  return { socketPath };
}

/** Options of {@linkcode watchDocker}. */
export interface WatchDockerOptions {
  /** Time source (backoff sleeps). @default systemClock */
  readonly clock?: Clock;
}

const logger = getLogger(["guest-agent", "source", "docker"]);

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
  const clock = options.clock ?? systemClock;
  const client = new DockerClient(config.socketPath);
  let everConnected = false;
  let lastStatus = "";
  let attempt = 0;
  const status = (
    state: "connected" | "waiting" | "reconnecting",
    reason?: string,
  ) => {
    const key = `${state}:${reason ?? ""}`;
    if (key === lastStatus) return;
    lastStatus = key;
    emit(
      reason === undefined
        ? { type: "status", state }
        : { type: "status", state, reason },
    );
  };
  try {
    while (!signal.aborted) {
      try {
        const version = await client.ping(signal);
        const stream = await client.events(signal); // subscribe before listing
        emit({ type: "snapshot", entries: await snapshot(client, signal) });
        status("connected");
        if (!everConnected) {
          logger.info("docker: connected to {socket} (API {version})", {
            socket: config.socketPath,
            version,
          });
        }
        everConnected = true;
        attempt = 0;
        const lines = readLines(stream, {
          onOversized: (head, bytes) =>
            logger.error(
              "docker: skipped an event line of {bytes} bytes: {head}",
              {
                bytes,
                head,
              },
            ),
        });
        // Events of different containers are applied concurrently (a burst
        // of starts waits for one inspect round trip, not one each); those
        // of one container stay in order. Reading never waits for inspects.
        const inFlight = new Map<string, Promise<void>>();
        try {
          for await (const line of lines) {
            const observedAt = wallClockMs();
            let event: ContainerEvent | undefined;
            try {
              event = parseDockerEvent(line);
            } catch (error) {
              logger.error("docker: {error}", {
                error: (error as Error).message,
              });
              continue;
            }
            if (event === undefined) continue;
            const { id } = event;
            const next = (inFlight.get(id) ?? Promise.resolve())
              .then(() => applyEvent(client, event, observedAt, emit, signal))
              .catch(() => {/* applyEvent logs; an abort ends the watch */});
            inFlight.set(id, next);
            next.then(() => {
              if (inFlight.get(id) === next) inFlight.delete(id);
            });
          }
        } finally {
          // A snapshot after a reconnect must not be overtaken by an older
          // event's upsert: let those finish first.
          await Promise.all(inFlight.values());
        }
        throw new Error("the event stream ended");
      } catch (error) {
        if (signal.aborted) return;
        const reason = `${config.socketPath}: ${(error as Error).message}`;
        status(everConnected ? "reconnecting" : "waiting", reason);
        await sleep(
          clock,
          backoffDelay(attempt++, { initialMs: 250, maxMs: 10_000 }),
          signal,
        )
          .catch(() => {});
      }
    }
  } finally {
    client.close();
  }
}
