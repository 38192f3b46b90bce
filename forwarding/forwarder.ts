/**
 * The interface every forwarder implements.
 *
 * @module
 */
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/**
 * Makes bindings reachable from the host. The delivery queue calls it; a
 * forwarder never watches anything itself.
 *
 * `add` and `remove` either finish (the host side has the change) or throw
 * (the queue retries with backoff). Both must be idempotent: the queue may
 * repeat a call whose first attempt failed half way.
 */
export interface Forwarder {
  /** Name for logs and status ("vtunnel", "listeners", "log", …). */
  readonly name: string;
  /** At most this many calls run at once. @default 8 */
  readonly concurrency?: number;
  /** Makes one binding reachable. */
  add(binding: TrackedBinding, signal: AbortSignal): Promise<void>;
  /** Stops forwarding one binding; receives the binding as it was added. */
  remove(binding: TrackedBinding, signal: AbortSignal): Promise<void>;
  /**
   * What must be equal for an applied binding to need no new call; a
   * change is applied as remove then add. @default the binding's key
   */
  identity?(binding: TrackedBinding): string;
  /**
   * Reads which of this agent's bindings the host side has now (e.g. the
   * host-switch API's list). When present, the queue replaces its applied
   * set with the answer at start and after any failed call, then
   * reconciles: stale entries are removed, missing ones added.
   */
  readApplied?(signal: AbortSignal): Promise<TrackedBinding[]>;
  /** Releases what the forwarder holds (connections, files); called once. */
  close?(): Promise<void>;
}
