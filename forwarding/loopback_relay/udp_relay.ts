/**
 * A UDP relay: each peer that sends to the relay's socket gets a session, a
 * socket of its own bound to the target's loopback address, from which its
 * datagrams go to the target and through which the target's replies come
 * back and are sent to that peer. A session idle for `idleMs` is closed; at
 * `maxSessions` the least recently used one is closed for a new peer.
 *
 * @module
 */
import type { Relay, RelayTarget } from "./tcp_relay.ts";

/** How long a closed session's socket key is still reported, in ms. */
const CLOSED_KEYS_GRACE_MS = 10_000;

/** Options of {@linkcode relayUdp}. */
export interface UdpRelayOptions {
  /** A session with no datagram either way for this long is closed, in ms. @default 60000 */
  readonly idleMs?: number;
  /** Sessions at once. @default 1024 */
  readonly maxSessions?: number;
}

interface Session {
  readonly socket: Deno.DatagramConn;
  readonly key: string;
  lastUsed: number;
  done: Promise<void>;
}

function closeQuietly(socket: Deno.DatagramConn): void {
  try {
    socket.close();
  } catch { /* closed already */ }
}

function addressKey(addr: Deno.Addr): string {
  const net = addr as Deno.NetAddr;
  return net.hostname.includes(":")
    ? `udp/[${net.hostname}]:${net.port}`
    : `udp/${net.hostname}:${net.port}`;
}

class UdpRelay implements Relay {
  readonly done: Promise<void>;
  readonly #socket: Deno.DatagramConn;
  readonly #boundKey: string;
  readonly #destination: Deno.NetAddr;
  readonly #idleMs: number;
  readonly #maxSessions: number;
  readonly #sessions = new Map<string, Session>();
  /** Session sockets closed lately: their keys, until when. */
  readonly #closedKeys = new Map<string, number>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(
    socket: Deno.DatagramConn,
    target: RelayTarget,
    boundKey: string,
    options: UdpRelayOptions,
  ) {
    this.#socket = socket;
    this.#boundKey = boundKey;
    this.#destination = { transport: "udp", ...target };
    this.#idleMs = options.idleMs ?? 60_000;
    this.#maxSessions = options.maxSessions ?? 1024;
    this.#sweep = setInterval(
      () => this.#closeIdle(),
      Math.max(10, Math.floor(this.#idleMs / 2)),
    );
    this.done = this.#receive().then(async () => {
      clearInterval(this.#sweep);
      await Promise.all([...this.#sessions.values()].map((s) => s.done));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    closeQuietly(this.#socket);
    for (const session of [...this.#sessions.values()]) this.#end(session);
  }

  sessions(): number {
    return this.#sessions.size;
  }

  boundKeys(): string[] {
    return [
      ...this.#closed ? [] : [this.#boundKey],
      ...[...this.#sessions.values()].map((s) => addressKey(s.socket.addr)),
      ...this.#closedKeys.keys(),
    ];
  }

  /** Peers' datagrams, each to its session's socket, until closed. */
  async #receive(): Promise<void> {
    while (!this.#closed) {
      let datagram: [Uint8Array, Deno.Addr];
      try {
        datagram = await this.#socket.receive();
      } catch {
        return; // closed
      }
      const [data, from] = datagram;
      const peer = from as Deno.NetAddr;
      const key = `${peer.hostname}:${peer.port}`;
      try {
        const session = this.#sessions.get(key) ?? this.#open(peer, key);
        session.lastUsed = performance.now();
        await session.socket.send(data, this.#destination);
      } catch {
        // One peer's failure (the target gone) drops its datagram.
      }
    }
  }

  /** A session for `peer`: the target's replies go back to it. */
  #open(peer: Deno.NetAddr, key: string): Session {
    if (this.#sessions.size >= this.#maxSessions) {
      this.#end(
        [...this.#sessions.values()].reduce((a, b) =>
          a.lastUsed <= b.lastUsed ? a : b
        ),
      );
    }
    const upstream = Deno.listenDatagram({
      transport: "udp",
      hostname: this.#destination.hostname,
      port: 0,
    });
    const session: Session = {
      socket: upstream,
      key,
      lastUsed: performance.now(),
      done: Promise.resolve(),
    };
    session.done = (async () => {
      try {
        for (;;) {
          const [reply] = await upstream.receive();
          session.lastUsed = performance.now();
          await this.#socket.send(reply, peer);
        }
      } catch {
        // Closed: idle, evicted, or the relay stopped.
      } finally {
        this.#end(session);
      }
    })();
    this.#sessions.set(key, session);
    return session;
  }

  #end(session: Session): void {
    if (this.#sessions.get(session.key) === session) {
      this.#sessions.delete(session.key);
    }
    this.#closedKeys.set(
      addressKey(session.socket.addr),
      performance.now() + CLOSED_KEYS_GRACE_MS,
    );
    closeQuietly(session.socket);
  }

  #closeIdle(): void {
    const now = performance.now();
    for (const session of this.#sessions.values()) {
      if (now - session.lastUsed >= this.#idleMs) this.#end(session);
    }
    for (const [key, until] of this.#closedKeys) {
      if (until <= now) this.#closedKeys.delete(key);
    }
  }
}

/**
 * Relays datagrams between `socket`'s peers and `target`.
 *
 * @param socket A bound datagram socket the relay owns (it closes it).
 * @param target The loopback listener.
 * @param boundKey The socket's binding key (`udp/<ip>:<port>`).
 * @param options Idle timeout and the most sessions at once.
 */
export function relayUdp(
  socket: Deno.DatagramConn,
  target: RelayTarget,
  boundKey: string,
  options: UdpRelayOptions = {},
): Relay {
  return new UdpRelay(socket, target, boundKey, options);
}
