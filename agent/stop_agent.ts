/**
 * A clean stop: sources first, then every forwarded binding removed within
 * the shutdown time, and a host side that can be read confirms it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type {
  DeliveryQueue,
  DeliveryStatus,
} from "../forwarding/delivery_queue.ts";
import type { SourceSupervisor } from "../sources/supervisor.ts";
import type { DesiredSets } from "../forwarding/listeners/desired_sets.ts";

/**
 * How shutdown went.
 *
 * @example Usage
 * ```ts ignore
 * import { DEFAULT_OPTIONS, startAgent, type StopReport } from "@guest-agent/agent";
 *
 * const agent = await startAgent({ ...DEFAULT_OPTIONS, controlSocket: "" });
 * const report: StopReport = await agent.stop();
 * if (!report.clean) console.warn("left behind:", report);
 * ```
 */
export interface StopReport {
  /** Every forwarded binding was removed in time. */
  readonly clean: boolean;
  /** What could not be removed, per forwarder. */
  readonly leftBehind: readonly DeliveryStatus[];
  /** Sources whose workers did not stop within the grace time (terminated). */
  readonly terminatedSources: readonly string[];
}

/** What {@linkcode stopAgent} stops. */
export interface StopParts {
  /** Bindings tracked now, for the first log line. */
  readonly bindings: number;
  /** How long removing the forwarded bindings may take. */
  readonly shutdownTimeoutMs: number;
  /** Stops what comes before the sources (companions, the control API). */
  before(): Promise<void>;
  /** The sources. */
  readonly supervisor: SourceSupervisor;
  /** The gate in front of the listeners. */
  readonly desired: DesiredSets;
  /** The forwarders' queue. */
  readonly queue: DeliveryQueue;
}

/** Stops the agent and says what was left behind. */
export async function stopAgent(parts: StopParts): Promise<StopReport> {
  const logger = getLogger(["guest-agent"]);
  const { queue, shutdownTimeoutMs } = parts;
  logger.info("stopping: removing {count} forwarded bindings", {
    count: parts.bindings,
  });
  await parts.before();
  const terminatedSources = await parts.supervisor.stop(1_000);
  parts.desired.close();
  queue.unwantAll();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), shutdownTimeoutMs);
  await queue.caughtUp(deadline.signal);
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
        ms: shutdownTimeoutMs,
        reasons: unread.map((lane) => `${lane.forwarder}: ${lane.readError}`)
          .join("; ") || "no answer",
      },
    );
  } else if (leftBehind.length > 0) {
    logger.error(
      "could not remove {count} bindings within {ms} ms: {bindings}",
      {
        count: leftBehind.length,
        ms: shutdownTimeoutMs,
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
}
