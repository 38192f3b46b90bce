/**
 * Idle waits on kernel descriptors (nf_tables notifications, perf
 * tracepoint rings) that end on an event, a deadline, or a stop — never on a
 * polling slice. One poll(2) on Deno's FFI thread pool covers the watched
 * descriptors and an eventfd; aborting the signal writes the eventfd, so the
 * parked pool thread returns at once and the descriptors can be closed.
 *
 * @module
 */
import { type Libc, POLLERR, POLLHUP } from "./libc.ts";

const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

/** What ended one wait. */
export type WaitResult =
  | { readonly kind: "stopped" }
  | { readonly kind: "timeout" }
  | {
    readonly kind: "ready";
    /** The indexes (into the watched descriptors) that are readable. */
    readonly ready: readonly number[];
    /** The indexes that reported an error or hang-up. */
    readonly failed: readonly number[];
  };

/**
 * Waits on descriptors until one is readable, a deadline passes or
 * `signal` aborts. Create it once per watch; `close()` it after the last
 * wait has settled.
 */
export class KernelWait {
  readonly #libc: Libc;
  readonly #signal: AbortSignal;
  readonly #eventFd: number;
  readonly #onAbort = () => this.#wake();

  /**
   * Opens the wake-up eventfd.
   *
   * @param libc The thread's libc.
   * @param signal Its abort ends the current and every later wait.
   * @throws {LibcError} When no eventfd can be made.
   */
  constructor(libc: Libc, signal: AbortSignal) {
    this.#libc = libc;
    this.#signal = signal;
    this.#eventFd = libc.symbols.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#eventFd < 0) libc.fail("create", "an eventfd");
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  #wake(): void {
    const one = new Uint8Array(8);
    one[0] = 1;
    this.#libc.symbols.write(this.#eventFd, one, 8n);
  }

  /**
   * Blocks (off the JavaScript thread) until one of `fds` is readable, the
   * timeout passes, or the signal aborts.
   *
   * @param fds The descriptors to watch.
   * @param timeoutMs The longest wait; -1 waits for an event or the stop.
   */
  async wait(fds: readonly number[], timeoutMs: number): Promise<WaitResult> {
    if (this.#signal.aborted) return { kind: "stopped" };
    const events = await this.#libc.pollReadable(
      [this.#eventFd, ...fds],
      timeoutMs,
    );
    if (this.#signal.aborted || events[0] !== 0) return { kind: "stopped" };
    const ready: number[] = [];
    const failed: number[] = [];
    events.slice(1).forEach((event, index) => {
      if (event & (POLLERR | POLLHUP)) failed.push(index);
      else if (event !== 0) ready.push(index);
    });
    return ready.length === 0 && failed.length === 0
      ? { kind: "timeout" }
      : { kind: "ready", ready, failed };
  }

  /** Closes the eventfd; call once no wait is pending. */
  close(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#libc.closeFd(this.#eventFd);
  }
}
