/**
 * Telling the Docker source's create-time prediction from the engine's
 * answer, so that a test waits for the answer before it asserts: the
 * prediction is posted at start and already carries the ports, so a wait
 * for the ports alone would pass before the engine could add or drop one.
 *
 * What tells them apart: an entry from the engine's answer (an inspect, or a
 * snapshot made of inspects) carries the container's addresses
 * (`containerIps`, an empty list for a container on no network); a
 * prediction from the create-time configuration carries none.
 *
 * @module
 */
import type { PortMessage } from "../sources/messages.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** What a tracker offers here: one binding by key. */
export interface TrackerView {
  /** The tracked binding of `key`, or undefined. */
  get(key: string): TrackedBinding | undefined;
}

/**
 * True when `keys` (sorted) are exactly `expected` and every holder of each
 * holds what the engine answered, not only the prediction.
 *
 * @param tracker Where the holders are read.
 * @param keys The keys a forwarder has now (e.g. `keysWith(port)`).
 * @param expected The keys the test then asserts, sorted.
 */
export function answeredExactly(
  tracker: TrackerView,
  keys: readonly string[],
  expected: readonly string[],
): boolean {
  return JSON.stringify(keys) === JSON.stringify(expected) &&
    keys.every((key) => {
      const holders = tracker.get(key)?.holders ?? [];
      return holders.length > 0 &&
        holders.every((holder) => holder.entry.containerIps !== undefined);
    });
}

/**
 * Records every port message the agent's sources post (the agent's
 * `onSourceMessage` dependency), so that a test can wait until the engine's
 * answer about one container has been applied: the moment after which a
 * wrong binding of that container would show.
 */
export class SourceMessages {
  /** Every message in the order posted, with its source. */
  readonly seen: { source: string; message: PortMessage }[] = [];

  /** The agent dependency: records one message. */
  readonly onSourceMessage = (source: string, message: PortMessage): void => {
    this.seen.push({ source, message });
  };

  /**
   * True once an upsert of owner `ownerId` (a full container id) carried the
   * engine's answer: no entries (a container that publishes nothing, a pod's
   * member), or entries with the container's addresses.
   */
  answered(ownerId: string): boolean {
    return this.seen.some(({ message }) =>
      message.type === "upsert" && message.ownerId === ownerId &&
      message.entries.every((entry) => entry.containerIps !== undefined)
    );
  }
}
