/**
 * The Kubernetes source's watcher: list services in every namespace (in
 * pages) and send them as a snapshot, then watch from the list's
 * resourceVersion and send each change as an upsert or remove keyed by the
 * service's UID. It keeps nothing of the services but the version to
 * resume from: a dropped watch resumes there without a relist, 410 Gone
 * relists, and an API server that is down, refuses or answers an error is
 * retried with capped backoff.
 *
 * @module
 */
import type { KubernetesConfig, ServiceListenAddress } from "./config.ts";
import { backoffDelay } from "../../support/backoff.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import type { PortEntry } from "../../binding/binding.ts";
import { keepConnected } from "../worker/keep_connected.ts";
import { wallClockMs } from "../../support/clock.ts";
import type { SourceMessageBody } from "../worker/worker_runtime.ts";
import { KubeApi, KubeApiError, type ReadTextFile } from "./kube_api.ts";
import { serviceEntries, serviceName } from "./parse_service.ts";
import { parseListPage, parseWatchEvent } from "./parse_watch.ts";
import { sourceLogger } from "../source_log.ts";

/** Options of {@linkcode watchKubernetes}. */
export interface WatchKubernetesOptions {
  /** Time source (backoff sleeps). @default systemClock */
  readonly clock?: Clock;
  /** Reads the certificate and token files. @default Deno.readTextFile */
  readonly readTextFile?: ReadTextFile;
  /** How long the server keeps one watch open, in seconds. @default 300 */
  readonly watchTimeoutSeconds?: number;
}

const SERVICES = "/api/v1/services";

/**
 * How long a deletion waits before it is sent: a service deleted and
 * created again with the same ports (`kubectl replace --force`, a Helm
 * upgrade) arrives as DELETED then ADDED, with a new UID. Sent in that order
 * the binding would go and come back (its listener closed and reopened);
 * held this long, the new service's upsert is applied first and the binding
 * stays.
 */
export const REMOVE_HOLD_MS = 100;

/**
 * Longest pause between tries while the API server is down: the first try
 * after it is back comes at most this long after it is ready (k3s restarts
 * are common; a try against a loopback port that refuses costs nothing).
 */
const RECONNECT_MAX_MS = 1_000;
const logger = sourceLogger("kubernetes");

/** The watch's version is gone from the server's history: relist. */
class Expired extends Error {}

/** What the list and watch steps share within one watchKubernetes call. */
interface WatchContext {
  readonly listenAddress: ServiceListenAddress;
  readonly pageSize: number;
  readonly emit: (message: SourceMessageBody) => void;
  readonly signal: AbortSignal;
  readonly held: HeldRemoves;
}

/**
 * Deletions held back for REMOVE_HOLD_MS, by UID, then sent together; a
 * snapshot drops them (it has the truth already).
 */
class HeldRemoves {
  readonly #removes = new Map<string, number>();
  readonly #clock: Clock;
  readonly #emit: (message: SourceMessageBody) => void;
  #timer: ReturnType<Clock["setTimeout"]> | undefined;

  constructor(clock: Clock, emit: (message: SourceMessageBody) => void) {
    this.#clock = clock;
    this.#emit = emit;
  }

  /** Holds the removal of `ownerId`, seen now. */
  hold(ownerId: string): void {
    this.#removes.set(ownerId, wallClockMs());
    this.#timer ??= this.#clock.setTimeout(() => this.send(), REMOVE_HOLD_MS);
  }

  /** Sends every held removal now. */
  send(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [ownerId, observedAt] of this.#removes) {
      this.#emit({ type: "remove", ownerId, observedAt });
    }
    this.#removes.clear();
  }

  /** Forgets the held removals (a snapshot has them). */
  clear(): void {
    this.#removes.clear();
  }
}

/** A service's entries, its skipped ports logged; undefined when it does not parse (logged). */
function entriesOf(
  service: unknown,
  listenAddress: ServiceListenAddress,
): PortEntry[] | undefined {
  try {
    const ports = serviceEntries(service, listenAddress);
    for (const reason of ports.skipped) {
      logger.warn("kubernetes: service {name}: skipped port {reason}", {
        name: ports.name,
        reason,
      });
    }
    return ports.entries;
  } catch (error) {
    logger.error("kubernetes: {error}", { error: (error as Error).message });
    return undefined;
  }
}

/** Lists every page; sends the snapshot; returns the list's version. */
async function listServices(
  api: KubeApi,
  context: WatchContext,
): Promise<string> {
  const { pageSize, signal, emit, held, listenAddress } = context;
  for (let attempt = 1;; attempt++) {
    const entries: PortEntry[] = [];
    let services = 0;
    let next: string | undefined;
    try {
      do {
        const page = parseListPage(
          await api.list(SERVICES, {
            limit: pageSize,
            ...(next ? { continue: next } : {}),
          }, signal),
        );
        services += page.items.length;
        for (const service of page.items) {
          entries.push(...entriesOf(service, listenAddress) ?? []);
        }
        next = page.continue;
        if (next === undefined) {
          // The snapshot is the truth: held deletions are in it already.
          held.clear();
          emit({ type: "snapshot", entries });
          logger.info(
            "kubernetes: listed {services} services ({bindings} bindings) from {server}",
            { services, bindings: entries.length, server: api.server },
          );
          return page.resourceVersion;
        }
      } while (!signal.aborted);
      throw signal.reason;
    } catch (error) {
      // A continue token outlived the server's history: list again.
      if (
        !(error instanceof KubeApiError && error.status === 410) ||
        attempt >= 3
      ) {
        throw error;
      }
      logger.info(
        "kubernetes: the list's continue token expired; listing again",
      );
    }
  }
}

/** Applies one watch line; returns the version it moves to. */
function applyWatchLine(
  line: string,
  version: string,
  context: WatchContext,
): string {
  let event;
  try {
    event = parseWatchEvent(line);
  } catch (error) {
    logger.error("kubernetes: {error}", { error: (error as Error).message });
    return version;
  }
  switch (event.kind) {
    case "bookmark":
      return event.resourceVersion;
    case "error":
      if (event.code === 410) throw new Expired(event.message);
      throw new KubeApiError("go on watching", event.code, event.message);
    case "change": {
      const entries = entriesOf(event.object, context.listenAddress);
      const uid = (event.object as { metadata?: { uid?: unknown } })
        .metadata?.uid;
      if (entries !== undefined && typeof uid === "string") {
        context.emit({
          type: "upsert",
          ownerId: uid,
          entries,
          observedAt: wallClockMs(),
        });
      }
      return event.resourceVersion ?? version;
    }
    case "delete": {
      const uid = (event.object as { metadata?: { uid?: unknown } })
        .metadata?.uid;
      if (typeof uid === "string" && uid !== "") {
        context.held.hold(uid);
      } else {
        logger.error("kubernetes: a deleted service {name} has no uid", {
          name: serviceName(event.object),
        });
      }
      return event.resourceVersion ?? version;
    }
  }
}

/**
 * One watch from version `from` until the server ends it, applying each
 * line: the version to go on from (undefined: it expired, list again) and
 * how many changes it brought.
 *
 * @param opened Called once the watch is open (the source is connected).
 */
async function watchOnce(
  api: KubeApi,
  from: string,
  context: WatchContext,
  opened: () => void,
  timeoutSeconds: number | undefined,
): Promise<{ readonly next: string | undefined; readonly changes: number }> {
  let lines: AsyncGenerator<string>;
  try {
    lines = await api.watch(SERVICES, {
      resourceVersion: from,
      signal: context.signal,
      ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    });
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 410) {
      return { next: undefined, changes: 0 };
    }
    throw error;
  }
  opened(); // resumed (no-op right after a list)
  let version = from;
  let changes = 0;
  try {
    for await (const line of lines) {
      version = applyWatchLine(line, version, context);
      changes++;
    }
  } catch (error) {
    if (!(error instanceof Expired)) throw error;
    logger.info(
      "kubernetes: resourceVersion {version} expired ({reason}); listing again",
      { version, reason: error.message },
    );
    return { next: undefined, changes };
  }
  return { next: version, changes };
}

/**
 * Watches services until `signal` aborts.
 *
 * @param config The API server, credentials, the listen address and the
 *   page size.
 * @param emit Receives snapshot, upsert, remove and status messages.
 * @param signal Ends the watch.
 * @param options Clock, file reader, watch length.
 */
export async function watchKubernetes(
  config: KubernetesConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: WatchKubernetesOptions = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const held = new HeldRemoves(clock, emit);
  const context: WatchContext = {
    listenAddress: config.listenAddress,
    pageSize: config.pageSize,
    emit,
    signal,
    held,
  };
  // Where the next watch starts; undefined: list first.
  let resourceVersion: string | undefined;
  // Watches in a row the server ended as soon as they started.
  let quickEnds = 0;
  await keepConnected(
    config.connection.server,
    async (connected) => {
      const api = await KubeApi.open(config.connection, options.readTextFile);
      try {
        while (!signal.aborted) {
          if (resourceVersion === undefined) {
            resourceVersion = await listServices(api, context);
            connected();
          }
          const startedAt = clock.now();
          const round = await watchOnce(
            api,
            resourceVersion,
            context,
            connected,
            options.watchTimeoutSeconds,
          );
          resourceVersion = round.next;
          if (resourceVersion === undefined) continue; // list again
          const changes = round.changes;
          // The server ended the watch (its timeout): watch again at once,
          // unless it keeps ending them straight away (then with backoff).
          if (changes > 0 || clock.now() - startedAt >= 1000) {
            quickEnds = 0;
            continue;
          }
          const delayMs = backoffDelay(quickEnds++, {
            initialMs: 250,
            maxMs: 10_000,
          });
          logger.warn(
            "kubernetes: {server} ended the watch at once; watching again in {delayMs} ms",
            { server: api.server, delayMs },
          );
          await sleep(clock, delayMs, signal).catch(() => {});
        }
      } finally {
        held.send();
        api.close();
      }
    },
    emit,
    signal,
    { clock, maxMs: RECONNECT_MAX_MS },
  );
}
