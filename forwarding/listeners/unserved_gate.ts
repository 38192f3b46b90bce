/**
 * The gate in front of the listener forwarder: a binding gets a listener
 * only when nothing in the VM serves its port, after a settle time.
 *
 * An engine adds its DNAT rule first and binds the port just after
 * (dockerd's docker-proxy, Podman's conmon, nerdctl's port reserver); a
 * listener opened in between takes the port and breaks `docker run`. So a
 * binding routed to the listeners gets a listener only once it was seen
 * unserved (nothing listening on its port) at every look for `settleMs`,
 * looking every `settleMs / 10`: a port served now and then (a container
 * restarting) never qualifies. A served binding is looked at again every
 * `recheckMs`. A DNAT-only port (CNI portmap, kube-proxy) is served by
 * nothing and gets its listener after the settle time. One look serves
 * every binding that is due.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, systemClock, type TimerId } from "../../support/clock.ts";
import type { Binding } from "../../binding/binding.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import type { DeliveryStatus } from "../delivery_queue.ts";

/** Options of {@linkcode UnservedGate}. */
export interface UnservedGateOptions {
  /** The forwarder's name in status rows. @default "listeners" */
  readonly forwarder?: string;
  /** How long a binding must stay unserved before it gets a listener, ms. @default 2000 */
  readonly settleMs?: number;
  /** How often a served binding is looked at again, ms. @default 30000 */
  readonly recheckMs?: number;
  /** Time source. @default systemClock */
  readonly clock?: Clock;
  /** Gives a binding to the listener forwarder. */
  readonly want: (binding: TrackedBinding) => void;
  /** Takes a binding back from the listener forwarder. */
  readonly unwant: (key: string) => void;
  /**
   * The sockets that serve ports in the VM now: listening TCP sockets and
   * bound, unconnected UDP sockets, as bindings.
   */
  readonly listening: () => Promise<readonly Binding[]>;
}

/** The reason shown for a binding held back because something serves it. */
export const SERVED_REASON =
  "served by a process in the VM (an engine's proxy or the program itself): no listener needed";

interface Waiting {
  tracked: TrackedBinding;
  /** Clock time it is looked at next. */
  due: number;
  /** Since when (clock time). */
  since: number;
  /** It was found served at its last look. */
  served: boolean;
  /** The first of the looks in a row that found it unserved. */
  unservedSince: number | undefined;
}

/** Whether `socket` serves `binding`: same protocol and port, overlapping address. */
export function serves(socket: Binding, binding: Binding): boolean {
  if (socket.protocol !== binding.protocol) return false;
  if (socket.hostPort !== binding.hostPort) return false;
  const wildcard = (ip: string) => ip === "0.0.0.0" || ip === "::";
  return wildcard(socket.hostIp) || wildcard(binding.hostIp) ||
    socket.hostIp === binding.hostIp;
}

/** Holds bindings back from the listener forwarder until they are unserved for a while. */
export class UnservedGate {
  readonly #forwarder: string;
  readonly #settleMs: number;
  readonly #recheckMs: number;
  readonly #lookEveryMs: number;
  readonly #clock: Clock;
  readonly #options: UnservedGateOptions;
  readonly #waiting = new Map<string, Waiting>();
  /** Keys given to the listener forwarder. */
  readonly #passed = new Set<string>();
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #looking = false;
  #closed = false;
  #logger = getLogger(["guest-agent", "forwarder", "listeners"]);

  /** Creates the gate; nothing happens until {@linkcode want}. */
  constructor(options: UnservedGateOptions) {
    this.#options = options;
    this.#forwarder = options.forwarder ?? "listeners";
    this.#settleMs = options.settleMs ?? 2000;
    this.#recheckMs = options.recheckMs ?? 30_000;
    this.#lookEveryMs = Math.max(20, Math.round(this.#settleMs / 10));
    this.#clock = options.clock ?? systemClock;
  }

  /** Routes `binding` to the listeners (through the gate). */
  want(binding: TrackedBinding): void {
    if (this.#closed) return;
    if (this.#passed.has(binding.key)) {
      this.#options.want(binding); // its holders may have changed
      return;
    }
    const waiting = this.#waiting.get(binding.key);
    if (waiting) {
      waiting.tracked = binding;
      return;
    }
    const now = this.#clock.now();
    const due = now + this.#lookEveryMs;
    this.#waiting.set(binding.key, {
      tracked: binding,
      due,
      since: now,
      served: false,
      unservedSince: undefined,
    });
    this.#schedule(due);
  }

  /** Routes the binding with `key` away from the listeners. */
  unwant(key: string): void {
    this.#waiting.delete(key);
    if (this.#passed.delete(key)) this.#options.unwant(key);
  }

  /** Bindings held at the gate, as status rows (passed ones are the queue's). */
  status(): DeliveryStatus[] {
    return [...this.#waiting].map(([key, waiting]) => ({
      forwarder: this.#forwarder,
      key,
      state: waiting.served ? "skipped" : "pending",
      attempts: 0,
      reason: waiting.served ? SERVED_REASON : this.#settlingReason,
      since: waiting.since,
    }));
  }

  /** Stops the timer; what passed stays with the listener forwarder. */
  close(): void {
    this.#closed = true;
    this.#waiting.clear();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  get #settlingReason(): string {
    return `waiting until nothing in the VM has listened on it for ${this.#settleMs} ms`;
  }

  #schedule(at: number): void {
    if (this.#closed || this.#looking || at >= this.#timerAt) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      void this.#look();
    }, Math.max(0, at - this.#clock.now()));
  }

  /** One look at the sockets for every binding that is due. */
  async #look(): Promise<void> {
    this.#looking = true;
    let sockets: readonly Binding[] | undefined;
    try {
      sockets = await this.#options.listening();
    } catch (error) {
      this.#logger.warn(
        "listeners: cannot read the listening sockets ({error}); no listener is opened until they can be read",
        { error: (error as Error).message },
      );
    }
    this.#looking = false;
    if (this.#closed) return;
    const now = this.#clock.now();
    for (const [key, waiting] of this.#waiting) {
      if (waiting.due > now) continue;
      if (sockets === undefined) {
        waiting.unservedSince = undefined;
        waiting.due = now + Math.min(this.#recheckMs, 5_000);
        continue;
      }
      const servedBy = sockets.find((socket) =>
        serves(socket, waiting.tracked.binding)
      );
      if (servedBy) {
        if (!waiting.served) {
          this.#logger.debug("{key}: served in the VM; no listener", { key });
        }
        waiting.served = true;
        waiting.unservedSince = undefined;
        waiting.due = now + this.#recheckMs;
        continue;
      }
      waiting.served = false;
      waiting.unservedSince ??= now;
      if (now - waiting.unservedSince < this.#settleMs) {
        waiting.due = now + this.#lookEveryMs;
        continue;
      }
      this.#waiting.delete(key);
      this.#passed.add(key);
      this.#options.want(waiting.tracked);
    }
    let next = Infinity;
    for (const waiting of this.#waiting.values()) {
      next = Math.min(next, waiting.due);
    }
    this.#schedule(next);
  }
}
