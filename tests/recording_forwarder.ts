/**
 * A forwarder that only records: what the agent would forward, i.e. the
 * tracker's view, for end-to-end tests of the sources.
 *
 * @module
 */
import type { Forwarder } from "../forwarding/forwarder.ts";
import { waitFor } from "./wait.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** Records every add and remove; `keys` is the set forwarded now. */
export class RecordingForwarder implements Forwarder {
  /** The forwarder's name in logs. */
  readonly name = "recording";
  /** Binding keys added and not removed. */
  readonly keys: Set<string> = new Set<string>();
  /** The tracked binding of each key. */
  readonly details: Map<string, TrackedBinding> = new Map();
  /** Every call in order: `+key` for an add, `-key` for a remove. */
  readonly history: string[] = [];
  /** Called on every add, with its binding (timing hooks). */
  onAdd: ((binding: TrackedBinding) => void) | undefined;

  /** Records an add. */
  add(binding: TrackedBinding): Promise<void> {
    this.history.push(`+${binding.key}`);
    this.keys.add(binding.key);
    this.details.set(binding.key, binding);
    this.onAdd?.(binding);
    return Promise.resolve();
  }

  /** Removes fail with "host side gone" while true (a host side that went away). */
  failRemoves = false;

  /** Records a remove, or fails it while `failRemoves`. */
  remove(binding: TrackedBinding): Promise<void> {
    if (this.failRemoves) return Promise.reject(new Error("host side gone"));
    this.history.push(`-${binding.key}`);
    this.keys.delete(binding.key);
    this.details.delete(binding.key);
    return Promise.resolve();
  }

  /** Waits up to 20 s for `check`; the error names `what` and the keys. */
  until(
    check: () => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<void> {
    return waitFor(
      check,
      timeoutMs,
      () => ` for ${what}: have ${JSON.stringify([...this.keys].sort())}`,
    );
  }

  /** The keys of port `port`, sorted. */
  keysWith(port: number): string[] {
    return [...this.keys].filter((key) => key.endsWith(`:${port}`)).sort();
  }
}

/**
 * Dependencies of startAgent that replace the mode's forwarders with
 * `forwarders` and route every binding to all of them (tests that watch what
 * the tracker holds, whatever the mode would do with it).
 */
export function injected(forwarders: readonly Forwarder[]): {
  forwarders: readonly Forwarder[];
  route: () => readonly string[];
} {
  return { forwarders, route: () => forwarders.map((f) => f.name) };
}
