/**
 * Runs tasks of one key in order and tasks of different keys concurrently:
 * events of one container stay ordered, a burst across containers waits for
 * one round trip instead of one each.
 *
 * @module
 */

/** Per-key ordered, cross-key concurrent task runner. */
export class KeyedChain {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` once every earlier task of `key` has finished. A task that
   * rejects does not stop the ones after it; handle errors inside the task.
   */
  run(key: string, task: () => Promise<void>): void {
    const next = (this.#tails.get(key) ?? Promise.resolve())
      .then(task)
      .catch(() => {/* the task reports its own errors */});
    this.#tails.set(key, next);
    next.then(() => {
      if (this.#tails.get(key) === next) this.#tails.delete(key);
    });
  }

  /** Keys with a task queued or running. */
  get pending(): number {
    return this.#tails.size;
  }

  /** Resolves once every task queued so far has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.#tails.values());
  }
}
