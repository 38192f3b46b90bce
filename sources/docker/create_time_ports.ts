/**
 * What the Docker source knows before the engine confirms it: each
 * container's certain bindings from its create-time configuration, kept by
 * container id (docs/protocols.md, "Docker Engine API"), and the check of
 * the engine's confirmation against what was posted. Pure: no I/O.
 *
 * @module
 */
import { bindingKey, type PortEntry } from "../../binding/binding.ts";

/** Containers remembered at most; the least recently used goes first. */
export const KNOWN_CONTAINERS_MAX = 10_000;

/**
 * Certain bindings per container id, bounded: a container whose `destroy`
 * was missed (the event stream broke meanwhile) is forgotten once enough
 * newer ones were learnt, and then waits for the engine's answer as an
 * unknown container does.
 */
export class CreateTimePorts {
  readonly #byId = new Map<string, readonly PortEntry[]>();
  readonly #max: number;

  /** @param max Containers remembered at most. */
  constructor(max: number = KNOWN_CONTAINERS_MAX) {
    this.#max = max;
  }

  /** Remembers `certain` as what container `id` publishes when it starts. */
  learn(id: string, certain: readonly PortEntry[]): void {
    this.#byId.delete(id);
    this.#byId.set(id, certain);
    if (this.#byId.size > this.#max) {
      const oldest = this.#byId.keys().next().value;
      if (oldest !== undefined) this.#byId.delete(oldest);
    }
  }

  /** What `id` publishes for certain at start, or undefined when unknown. */
  certain(id: string): readonly PortEntry[] | undefined {
    return this.#byId.get(id);
  }

  /** Forgets `id` (the container was removed). */
  forget(id: string): void {
    this.#byId.delete(id);
  }

  /** Containers remembered now. */
  get size(): number {
    return this.#byId.size;
  }
}

/**
 * The keys of the bindings posted early that the engine's confirmation
 * takes back: each is a misprediction.
 *
 * @param posted What was posted at start from the configuration.
 * @param confirmed What the engine's answer at start publishes.
 * @returns The binding keys in `posted` and not in `confirmed`, sorted.
 */
export function takenBack(
  posted: readonly PortEntry[],
  confirmed: readonly PortEntry[],
): string[] {
  const kept = new Set(confirmed.map((entry) => bindingKey(entry.binding)));
  return [
    ...new Set(
      posted.map((entry) => bindingKey(entry.binding)).filter((key) =>
        !kept.has(key)
      ),
    ),
  ].sort();
}
