/**
 * The Kubernetes source's watcher: a @kubernetes/client-node informer (list
 * + watch) on services in every namespace. Every (re)list becomes a
 * snapshot; watch events become upserts and removes keyed by service UID.
 * An API server that is not up, refuses, restarts or answers an error is
 * retried with capped backoff, resuming the watch where it was (or relisting
 * after 410 Gone).
 *
 * @module
 */
import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type V1Service,
} from "@kubernetes/client-node";
import { getLogger } from "@logtape/logtape";
import { backoffDelay } from "../../support/backoff.ts";
import { type Clock, sleep, systemClock } from "../../support/clock.ts";
import type { PortEntry } from "../../tracker/binding.ts";
import { wallClockMs } from "../messages.ts";
import type { SourceMessageBody } from "../worker_runtime.ts";
import {
  serviceEntries,
  type ServiceListenAddress,
  serviceName,
} from "./parse_service.ts";

/** Configuration of the Kubernetes source. */
export interface KubernetesConfig {
  /** The kubeconfig file (the main thread checked it exists). */
  readonly kubeconfig: string;
  /** Host address of every service binding. */
  readonly listenAddress: ServiceListenAddress;
}

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a field is missing or wrong.
 */
export function parseKubernetesConfig(
  raw: Readonly<Record<string, unknown>>,
): KubernetesConfig {
  const { kubeconfig, listenAddress } = raw;
  if (typeof kubeconfig !== "string" || !kubeconfig.startsWith("/")) {
    throw new TypeError(
      "Cannot configure kubernetes: kubeconfig must be an absolute path",
    );
  }
  if (listenAddress !== "0.0.0.0" && listenAddress !== "127.0.0.1") {
    throw new TypeError(
      "Cannot configure kubernetes: listenAddress must be 0.0.0.0 or 127.0.0.1",
    );
  }
  return { kubeconfig, listenAddress };
}

/** Options of {@linkcode watchKubernetes}. */
export interface WatchKubernetesOptions {
  /** Time source (backoff sleeps). @default systemClock */
  readonly clock?: Clock;
}

const logger = getLogger(["guest-agent", "source", "kubernetes"]);

/**
 * Watches services until `signal` aborts.
 *
 * @param config The kubeconfig and the listen address.
 * @param emit Receives snapshot, upsert, remove and status messages.
 * @param signal Ends the watch.
 * @param options Clock.
 */
export async function watchKubernetes(
  config: KubernetesConfig,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
  options: WatchKubernetesOptions = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromFile(config.kubeconfig);
  const server = kubeconfig.getCurrentCluster()?.server ?? "?";
  const api = kubeconfig.makeApiClient(CoreV1Api);

  const entriesOf = (service: unknown): PortEntry[] | undefined => {
    try {
      const ports = serviceEntries(service, config.listenAddress);
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
  };

  let state: "connected" | "waiting" | "reconnecting" | undefined;
  let everListed = false;
  // While the informer applies a list, its add/update/delete callbacks
  // repeat what the snapshot already said: they are not sent.
  let applyingList = false;
  const informer = makeInformer(
    kubeconfig,
    "/api/v1/services",
    async () => {
      const list = await api.listServiceForAllNamespaces();
      const entries = list.items.flatMap((service) => entriesOf(service) ?? []);
      emit({ type: "snapshot", entries });
      applyingList = true;
      setTimeout(() => applyingList = false, 0);
      if (!everListed) {
        logger.info("kubernetes: listed {count} services from {server}", {
          count: list.items.length,
          server,
        });
      }
      everListed = true;
      if (state !== "connected") {
        state = "connected";
        emit({ type: "status", state });
      }
      attempt = 0;
      return list;
    },
  );
  const upsert = (service: V1Service) => {
    if (applyingList) return;
    const observedAt = wallClockMs();
    const uid = service.metadata?.uid;
    const entries = entriesOf(service);
    if (uid === undefined || entries === undefined) return;
    emit({ type: "upsert", ownerId: uid, entries, observedAt });
  };
  informer.on("add", upsert);
  informer.on("update", upsert);
  informer.on("delete", (service: V1Service) => {
    if (applyingList) return;
    const uid = service.metadata?.uid;
    if (uid === undefined) {
      logger.error("kubernetes: a deleted service {name} has no uid", {
        name: serviceName(service),
      });
      return;
    }
    emit({ type: "remove", ownerId: uid, observedAt: wallClockMs() });
  });

  let attempt = 0;
  // The informer reports a failure once and stops; each round starts it
  // and waits for that failure (or the end).
  let failure: { error: unknown } | undefined;
  let wake = () => {};
  const fail = (error: unknown) => {
    failure ??= { error };
    wake();
  };
  // Read through a function: TypeScript cannot see the callbacks set it.
  const failed = () => failure;
  informer.on("error", fail);
  const onAbort = () => wake();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    while (!signal.aborted) {
      failure = undefined;
      await informer.start().catch(fail);
      if (failed() === undefined && everListed && state !== "connected") {
        // The watch resumed without a relist: connected again.
        state = "connected";
        emit({ type: "status", state });
        attempt = 0;
      }
      if (failed() === undefined && !signal.aborted) {
        await new Promise<void>((resolve) => wake = resolve);
      }
      if (signal.aborted) break;
      const next = everListed ? "reconnecting" : "waiting";
      const reason = `${server}: ${describe(failed()?.error)}`;
      if (next !== state) {
        state = next;
        emit({ type: "status", state, reason });
      }
      await sleep(
        clock,
        backoffDelay(attempt++, { initialMs: 250, maxMs: 10_000 }),
        signal,
      ).catch(() => {});
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    await informer.stop();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code =
      (error as { code?: unknown; statusCode?: unknown }).statusCode ??
        (error as { code?: unknown }).code;
    return code === undefined ? error.message : `${error.message} (${code})`;
  }
  return String(error);
}
