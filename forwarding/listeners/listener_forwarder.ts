/**
 * The listener forwarder: a socket per binding, so WSL relays the port to
 * the host (docs/protocols.md, "Listeners"). Real traffic is DNAT'd before it reaches the
 * listener; a connection that does reach it is closed at once.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { describeOwners } from "../../tracker/describe_owners.ts";
import type { Forwarder } from "../forwarder.ts";
import { backoffDelay } from "../../support/backoff.ts";
import { isOutOfDescriptors } from "../../support/open_files.ts";

const ACCEPT_BACKOFF = { initialMs: 50, maxMs: 5_000 };

interface OpenSocket {
  readonly close: () => void;
  readonly done: Promise<void>;
}

function explain(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "the address is in use";
  if (isOutOfDescriptors(error)) {
    return "out of file descriptors (raise the open-files limit: LimitNOFILE= in the systemd unit, rc_ulimit in the OpenRC script)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need root)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "the address is not on this machine";
  }
  return error instanceof Error ? error.message : String(error);
}

/** Descriptors kept for everything but listeners (sources, control, forwarders). */
export const FD_RESERVE = 256;

/**
 * Opens a TCP listener (reusePort) per TCP binding and a bound UDP socket per
 * UDP binding; never two for one key. A conflict (EADDRINUSE, EACCES) fails
 * the add with the owner's name; the delivery queue logs it once and retries
 * with backoff.
 */
export class ListenerForwarder implements Forwarder {
  /** "listeners". */
  readonly name = "listeners";
  /** It opens a listening socket for each port: behind the unserved gate. */
  readonly holdsListeningSockets = true;
  /** Opening a socket is fast: plenty at once. */
  readonly concurrency = 64;
  #open = new Map<string, OpenSocket>();
  #warned = new Set<string>();
  #maxOpen: number;
  #logger: Logger = getLogger(["guest-agent", "forwarder", "listeners"]);

  /**
   * Creates the forwarder.
   *
   * @param options `maxOpen`: most sockets open at once, so listeners never
   *   take the descriptors the rest of the agent needs (the control socket,
   *   sources, other forwarders). @default Infinity
   */
  constructor(options: { readonly maxOpen?: number } = {}) {
    this.#maxOpen = options.maxOpen ?? Infinity;
  }

  /** Opens the socket for a binding (nothing when it is open already). */
  add(tracked: TrackedBinding): Promise<void> {
    if (this.#open.has(tracked.key)) return Promise.resolve();
    if (this.#open.size >= this.#maxOpen) {
      return Promise.reject(
        new Error(
          `Cannot listen on ${tracked.key}: ${this.#maxOpen} listeners are open, as many as the open-files limit leaves room for (raise it: LimitNOFILE= in the systemd unit, rc_ulimit in the OpenRC script)`,
        ),
      );
    }
    const { protocol, hostIp: hostname, hostPort: port } = tracked.binding;
    try {
      this.#open.set(
        tracked.key,
        protocol === "tcp"
          ? this.#listenTcp(hostname, port)
          : this.#bindUdp(hostname, port),
      );
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(
        new Error(
          `Cannot listen on ${tracked.key} for ${describeOwners(tracked)}: ${
            explain(error)
          }`,
        ),
      );
    }
  }

  /** Closes the socket of a binding. */
  async remove(binding: TrackedBinding): Promise<void> {
    const socket = this.#open.get(binding.key);
    if (socket === undefined) return;
    this.#open.delete(binding.key);
    socket.close();
    await socket.done;
  }

  /** The keys that have a socket open (the /proc/net source must skip them). */
  openKeys(): string[] {
    return [...this.#open.keys()].sort();
  }

  /** Closes every socket. */
  async close(): Promise<void> {
    const sockets = [...this.#open.values()];
    this.#open.clear();
    for (const socket of sockets) socket.close();
    await Promise.all(sockets.map((socket) => socket.done));
  }

  #listenTcp(hostname: string, port: number): OpenSocket {
    const listener = Deno.listen({ hostname, port, reusePort: true });
    const addr = `${hostname}:${port}`;
    let closed = false;
    let wake: (() => void) | undefined;
    const done = (async () => {
      let failures = 0;
      while (!closed) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (closed || error instanceof Deno.errors.BadResource) return;
          // Out of descriptors (EMFILE, ENFILE) or another passing error:
          // the listener stays; accepting resumes after a pause.
          this.#warnOnce(`cannot accept on ${addr}: ${explain(error)}`);
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, backoffDelay(failures++, ACCEPT_BACKOFF));
          });
          continue;
        }
        failures = 0;
        this.#logger.debug("closing a connection to {addr}", { addr });
        conn.close();
      }
    })();
    return {
      close: () => {
        closed = true;
        wake?.();
        try {
          listener.close();
        } catch { /* closed */ }
      },
      done,
    };
  }

  /** Logs each distinct problem once. */
  #warnOnce(message: string): void {
    if (this.#warned.has(message) || this.#warned.size > 1000) return;
    this.#warned.add(message);
    this.#logger.warn("listeners: {message}", { message });
  }

  #bindUdp(hostname: string, port: number): OpenSocket {
    const socket = Deno.listenDatagram({ transport: "udp", hostname, port });
    // Datagrams that reach it are read and dropped, so its buffer never fills.
    const done = (async () => {
      try {
        for await (const _ of socket) { /* drop */ }
      } catch { /* closed */ }
    })();
    return {
      close: () => {
        try {
          socket.close();
        } catch { /* closed */ }
      },
      done,
    };
  }
}
