/**
 * Reads a container ahead of its start: containerd publishes /tasks/create
 * some milliseconds before /tasks/start (runc creates the container in
 * between), so the Containers/Get issued on create has usually answered by
 * the time the start arrives, and the start costs no round trip.
 *
 * @module
 */
import type { ContainerRecord } from "./parse_event.ts";

/** Fetches one container; undefined when it does not exist. */
export type FetchContainer = (
  namespace: string,
  id: string,
) => Promise<ContainerRecord | undefined>;

/** Options of {@linkcode ContainerLookahead}. */
export interface ContainerLookaheadOptions {
  /** Most reads kept waiting for their start (oldest dropped). @default 1024 */
  readonly capacity?: number;
}

/** Container reads started on create and taken on start. */
export class ContainerLookahead {
  readonly #fetch: FetchContainer;
  readonly #capacity: number;
  readonly #pending = new Map<string, Promise<ContainerRecord | undefined>>();

  /** Reads through `fetch`. */
  constructor(fetch: FetchContainer, options: ContainerLookaheadOptions = {}) {
    this.#fetch = fetch;
    this.#capacity = options.capacity ?? 1024;
  }

  /** Starts reading the container now (its task was just created). */
  readAhead(namespace: string, id: string): void {
    const key = `${namespace}/${id}`;
    this.#pending.delete(key);
    if (this.#pending.size >= this.#capacity) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    const read = this.#fetch(namespace, id);
    read.catch(() => {/* take() reads again */});
    this.#pending.set(key, read);
  }

  /**
   * The container as read ahead, or read now when there was no read ahead
   * or it failed.
   */
  async take(
    namespace: string,
    id: string,
  ): Promise<ContainerRecord | undefined> {
    const key = `${namespace}/${id}`;
    const ahead = this.#pending.get(key);
    this.#pending.delete(key);
    if (ahead !== undefined) {
      try {
        return await ahead;
      } catch { /* read again below */ }
    }
    return await this.#fetch(namespace, id);
  }

  /** Drops a read ahead: the container changed or is gone. */
  forget(namespace: string, id: string): void {
    this.#pending.delete(`${namespace}/${id}`);
  }

  /** How many reads wait for their start. */
  get size(): number {
    return this.#pending.size;
  }
}
