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
 *
 * @example Usage
 * ```ts
 * import { type Forwarder, makeBinding, PortTracker } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const forwarded = new Set<string>();
 * const forwarder: Forwarder = {
 *   name: "memory",
 *   add: (binding) => Promise.resolve(void forwarded.add(binding.key)),
 *   remove: (binding) => Promise.resolve(void forwarded.delete(binding.key)),
 * };
 * const tracker = new PortTracker();
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * const { added } = tracker.apply({ type: "snapshot", source: "docker", entries: [{ ownerId: "c1", binding }] });
 * await forwarder.add(added[0]!, new AbortController().signal);
 * assert.deepEqual([...forwarded], ["tcp/0.0.0.0:80"]);
 * ```
 */
export interface Forwarder {
  /** Name for logs and status ("privileged-service", "listeners", "log", …). */
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
   * set with the answer at start, after any failed call and every
   * {@linkcode auditEveryMs}, then reconciles: stale entries are removed,
   * missing ones added.
   *
   * @param signal Aborts the read.
   * @param wanted The bindings wanted now: a host-side entry that serves
   *   one of them is returned as that binding (adopted, not made again);
   *   one of ours that serves none is returned under a key of its own, so
   *   the queue removes it.
   */
  readApplied?(
    signal: AbortSignal,
    wanted: readonly TrackedBinding[],
  ): Promise<TrackedBinding[]>;
  /**
   * Read the host side this often even when nothing failed, to notice a
   * host side that lost its state (restarted) without a failed call; the
   * retry delay of a failed read is capped at it too. Only with
   * {@linkcode readApplied}.
   */
  readonly auditEveryMs?: number;
  /**
   * Why this forwarder will not take `binding` (e.g. an IPv6 binding for an
   * IPv4-only API), or undefined when it takes it. A skipped binding gets
   * no call and shows as `skipped` with the reason.
   */
  skipReason?(binding: TrackedBinding): string | undefined;
  /**
   * Keys of the sockets this forwarder holds in the VM (listening, or bound
   * and unconnected), which a source reading the VM's sockets must skip.
   */
  openKeys?(): string[];
  /**
   * A binding is given to this forwarder only once it has been wanted this
   * long without a break, in ms (see forwarding/settle_gate.ts): for a
   * forwarder that opens sockets for ports seen among the VM's own sockets,
   * which an engine may yet claim.
   */
  readonly settleMs?: number;
  /**
   * It opens a listening socket in the VM for each port it is given: a
   * binding reaches it only once nothing in the VM serves the port (the
   * unserved gate, forwarding/listeners/unserved_gate.ts).
   */
  readonly holdsListeningSockets?: boolean;
  /** True for a forwarder that only logs (auto mode, `--dry-run`). */
  readonly onlyLogs?: boolean;
  /** Releases what the forwarder holds (connections, files); called once. */
  close?(): Promise<void>;
}

/**
 * Thrown by a forwarder whose host side cannot be reached at all (its
 * socket is not there yet, or nothing listens on it): the binding is fine,
 * the peer is away. The queue retries as for any failure; `status` shows
 * the forwarder as waiting, with this message.
 */
export class HostSideUnreachableError extends Error {
  /** Creates the error; `message` says which peer and why. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HostSideUnreachableError";
  }
}
