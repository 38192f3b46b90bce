/**
 * A settle gate: a binding reaches its forwarder only once it has been
 * wanted for `settleMs` without a break; one unwanted sooner never reaches
 * it. For a forwarder that opens a socket in the VM for a port it learnt of
 * from the VM's own sockets (the loopback relay): docker-proxy and nerdctl's
 * reserver open their sockets before the engine says whose they are, and the
 * engine's claim (which takes the binding off this forwarder's route) comes
 * within that time. A binding already passed is updated at once.
 *
 * @module
 */
import type { Clock, TimerId } from "../support/clock.ts";
import type { DeliveryStatus } from "./lane.ts";
import type { TrackedBinding } from "../tracker/port_tracker.ts";

/** Options of {@linkcode SettleGate}. */
export interface SettleGateOptions {
  /** The forwarder gated. */
  readonly forwarder: string;
  /** How long a binding must stay wanted, in ms. */
  readonly settleMs: number;
  /** The agent's clock. */
  readonly clock: Clock;
  /** Gives a binding to the forwarder (the queue's want). */
  want(binding: TrackedBinding): void;
  /** Takes it back (the queue's unwant). */
  unwant(key: string): void;
}

interface Waiting {
  binding: TrackedBinding;
  readonly since: number;
  readonly timer: TimerId;
}

/** Holds each newly wanted binding for `settleMs` before passing it on. */
export class SettleGate {
  readonly #options: SettleGateOptions;
  readonly #waiting = new Map<string, Waiting>();
  readonly #passed = new Set<string>();

  /** @param options The forwarder, the settle time, the clock, and the queue's want and unwant. */
  constructor(options: SettleGateOptions) {
    this.#options = options;
  }

  /** The binding is wanted (again, or changed). */
  want(binding: TrackedBinding): void {
    if (this.#passed.has(binding.key)) return this.#options.want(binding);
    const waiting = this.#waiting.get(binding.key);
    if (waiting) {
      waiting.binding = binding;
      return;
    }
    const { clock, settleMs } = this.#options;
    const timer = clock.setTimeout(() => {
      const settled = this.#waiting.get(binding.key);
      if (!settled) return;
      this.#waiting.delete(binding.key);
      this.#passed.add(binding.key);
      this.#options.want(settled.binding);
    }, settleMs);
    this.#waiting.set(binding.key, { binding, since: clock.now(), timer });
  }

  /** The binding is no longer wanted: never passed, or taken back. */
  unwant(key: string): void {
    const waiting = this.#waiting.get(key);
    if (waiting) {
      this.#options.clock.clearTimeout(waiting.timer);
      this.#waiting.delete(key);
    }
    if (this.#passed.delete(key)) this.#options.unwant(key);
  }

  /** The bindings still settling, as `pending` rows. */
  status(): DeliveryStatus[] {
    return [...this.#waiting].map(([key, waiting]) => ({
      forwarder: this.#options.forwarder,
      key,
      state: "pending",
      attempts: 0,
      reason:
        `settling: held ${this.#options.settleMs} ms in case an engine claims the socket`,
      since: waiting.since,
    }));
  }

  /** Cancels every timer; what passed stays passed. */
  close(): void {
    for (const waiting of this.#waiting.values()) {
      this.#options.clock.clearTimeout(waiting.timer);
    }
    this.#waiting.clear();
  }
}
