/**
 * The step from the tracker's diffs to each forwarder's desired set: a
 * binding that appeared or changed is wanted by the forwarders its route
 * names and unwanted by the others; a binding that went is unwanted by all.
 * The route is injected (agent/routes.ts builds it from the registry; tests
 * give their own).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Clock, systemClock } from "../support/clock.ts";
import { describeOwners } from "../tracker/describe_owners.ts";
import type { TrackedBinding, TrackerDiff } from "../tracker/port_tracker.ts";

/** What a {@linkcode DiffRouter} drives. */
export interface DiffRouterOptions {
  /** The forwarders, by name. */
  readonly forwarders: readonly string[];
  /** The forwarders that should have a binding. */
  readonly route: (binding: TrackedBinding) => readonly string[];
  /** `forwarder` should have `binding` (again, if it changed). */
  want(forwarder: string, binding: TrackedBinding): void;
  /** `forwarder` should not have the binding `key`. */
  unwant(forwarder: string, key: string): void;
  /** When bindings appeared. @default systemClock */
  readonly clock?: Clock;
}

/**
 * Applies tracker diffs to the forwarders' desired sets and logs each
 * binding that appears or goes, with who holds it.
 *
 * @example
 * ```ts
 * import { DiffRouter } from "./diff_router.ts";
 * import { PortTracker } from "../tracker/port_tracker.ts";
 * import { makeBinding } from "../binding/binding.ts";
 * const wanted: string[] = [];
 * const router = new DiffRouter({
 *   forwarders: ["listeners"],
 *   route: () => ["listeners"],
 *   want: (lane, binding) => wanted.push(`${lane} ${binding.key}`),
 *   unwant: () => {},
 * });
 * const binding = makeBinding("tcp", "0.0.0.0", 80);
 * router.apply(new PortTracker().apply({
 *   type: "snapshot",
 *   source: "iptables",
 *   entries: [{ ownerId: "r1", binding }],
 * }));
 * wanted; // ["listeners tcp/0.0.0.0:80"]
 * ```
 */
export class DiffRouter {
  readonly #options: DiffRouterOptions;
  readonly #clock: Clock;
  readonly #appearedAt = new Map<string, number>();
  readonly #logger = getLogger(["guest-agent"]);

  /** @param options The forwarders, the route, and what wanting means. */
  constructor(options: DiffRouterOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** When each tracked binding appeared (the clock's time). */
  get appearedAt(): ReadonlyMap<string, number> {
    return this.#appearedAt;
  }

  /** Routes one tracker diff. */
  apply(diff: TrackerDiff): void {
    const { forwarders, route, want, unwant } = this.#options;
    for (const binding of diff.added) {
      this.#appearedAt.set(binding.key, this.#clock.now());
    }
    for (const gone of diff.removed) {
      this.#appearedAt.delete(gone.key);
      for (const forwarder of forwarders) unwant(forwarder, gone.key);
    }
    for (const binding of [...diff.added, ...diff.changed]) {
      const routes = new Set(route(binding));
      for (const forwarder of forwarders) {
        if (routes.has(forwarder)) want(forwarder, binding);
        else unwant(forwarder, binding.key);
      }
    }
    // Logged once the forwarders have their calls under way: a log line
    // costs more than the first steps of a send.
    for (const gone of diff.removed) {
      this.#logger.info("{key} gone (last held by {owners})", {
        key: gone.key,
        owners: describeOwners(gone),
      });
    }
    for (const binding of diff.added) {
      this.#logger.info("{key} appeared (held by {owners})", {
        key: binding.key,
        owners: describeOwners(binding),
      });
    }
  }
}
