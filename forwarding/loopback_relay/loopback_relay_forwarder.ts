/**
 * The loopback relay forwarder, for host-switch mode. host-switch reaches a
 * port in the VM at the tap address (remote `tapIp:P`), so a process that
 * listens only on 127.0.0.1 or only on [::1] is out of its reach. For such a
 * binding this forwarder listens on `tapIp:P` (TCP, or UDP) and relays into
 * the loopback listener; Rancher Desktop's in-tree agent does the same for
 * 127.0.0.1 (not for [::1], nor for a v6-only [::]).
 *
 * A binding on `::` is relayed into [::1]:P when the socket is v6-only. When
 * `tapIp:P` is taken already, a socket that also accepts IPv4 there (a
 * dual-stack [::]:P, or a wildcard 0.0.0.0:P beside the loopback one) serves
 * the tap address itself: no relay is needed and none is opened.
 *
 * Its own sockets are reported by {@linkcode openKeys} (and for a while after
 * they close) so that the /proc/net source never takes them for new ports.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Forwarder } from "../forwarder.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { bindingKey, makeBinding } from "../../binding/binding.ts";
import { type Relay, type RelayTarget, relayTcp } from "./tcp_relay.ts";
import { relayUdp, type UdpRelayOptions } from "./udp_relay.ts";

/**
 * The host addresses of a VM listener that host-switch cannot reach at the
 * tap address by itself (loopback, and [::] when v6-only): in host-switch
 * mode such a listener also gets the loopback relay.
 */
export const RELAYED_HOST_IPS: readonly string[] = ["127.0.0.1", "::1", "::"];

/** Why a binding on another address gets no relay. */
export const NOT_LOOPBACK_REASON =
  "not a loopback or IPv6 wildcard listener: host-switch reaches it at the tap address";

/** How long a closed relay's socket keys are still reported, in ms. */
const CLOSED_KEYS_GRACE_MS = 10_000;

/** Options of {@linkcode LoopbackRelayForwarder}. */
export interface LoopbackRelayForwarderOptions {
  /** The VM's tap address, where host-switch connects. */
  readonly tapIp: string;
  /** UDP session limits. */
  readonly udp?: UdpRelayOptions;
  /**
   * How long a binding waits before its relay opens, in ms: docker-proxy's
   * sockets are seen before dockerd says they are its own. @default 2000
   */
  readonly settleMs?: number;
}

/** What a binding has: a relay, or the tap address served already. */
type Held = { readonly relay: Relay } | { readonly servedAlready: true };

/** Relays host-switch's connections at the tap address into loopback listeners. */
export class LoopbackRelayForwarder implements Forwarder {
  /** "loopback-relay". */
  readonly name = "loopback-relay";
  /** Opening a socket is quick: a few at once. */
  readonly concurrency = 8;
  /** A binding waits this long (an engine may claim the socket meanwhile). */
  readonly settleMs: number;
  readonly #tapIp: string;
  readonly #udp: UdpRelayOptions;
  readonly #held = new Map<string, Held>();
  /** Keys of sockets closed lately, until when (performance.now()). */
  readonly #closedKeys = new Map<string, number>();
  readonly #logger = getLogger(["guest-agent", "forwarder", "loopback-relay"]);

  /** @param options The tap address, and UDP session limits. */
  constructor(options: LoopbackRelayForwarderOptions) {
    this.#tapIp = options.tapIp;
    this.#udp = options.udp ?? {};
    this.settleMs = options.settleMs ?? 2000;
  }

  /** Only listeners on 127.0.0.1, [::1] and [::] need a relay. */
  skipReason(tracked: TrackedBinding): string | undefined {
    return RELAYED_HOST_IPS.includes(tracked.binding.hostIp)
      ? undefined
      : NOT_LOOPBACK_REASON;
  }

  /** Opens the relay on the tap address (nothing when the address is served already). */
  add(tracked: TrackedBinding): Promise<void> {
    if (this.#held.has(tracked.key)) return Promise.resolve();
    const { protocol, hostIp, hostPort } = tracked.binding;
    const target: RelayTarget = {
      hostname: hostIp === "127.0.0.1" ? "127.0.0.1" : "::1",
      port: hostPort,
    };
    const boundKey = bindingKey(makeBinding(protocol, this.#tapIp, hostPort));
    try {
      const relay = protocol === "tcp"
        ? relayTcp(
          Deno.listen({ hostname: this.#tapIp, port: hostPort }),
          target,
          boundKey,
        )
        : relayUdp(
          Deno.listenDatagram({
            transport: "udp",
            hostname: this.#tapIp,
            port: hostPort,
          }),
          target,
          boundKey,
          this.#udp,
        );
      this.#held.set(tracked.key, { relay });
      this.#logger.info(
        "loopback-relay: {tap} relays into {target} for {key}",
        {
          tap: `${this.#tapIp}:${hostPort}`,
          target: hostIp === "127.0.0.1"
            ? `127.0.0.1:${hostPort}`
            : `[::1]:${hostPort}`,
          key: tracked.key,
        },
      );
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        this.#held.set(tracked.key, { servedAlready: true });
        this.#logger.info(
          "loopback-relay: {tap} is served already (a dual-stack or wildcard socket on port {port}): no relay for {key}",
          {
            tap: `${this.#tapIp}:${hostPort}`,
            port: hostPort,
            key: tracked.key,
          },
        );
        return Promise.resolve();
      }
      const why = error instanceof Deno.errors.AddrNotAvailable
        ? `${this.#tapIp} is not an address of this VM (see -tap-interface-ip)`
        : error instanceof Error
        ? error.message
        : String(error);
      return Promise.reject(
        new Error(`Cannot relay ${tracked.key} at ${this.#tapIp}: ${why}`),
      );
    }
    return Promise.resolve();
  }

  /** Closes the binding's relay and its connections. */
  async remove(binding: TrackedBinding): Promise<void> {
    const held = this.#held.get(binding.key);
    this.#held.delete(binding.key);
    if (held && "relay" in held) await this.#closeRelay(held.relay);
  }

  /** Whether the binding has a relay open (false: none, or served already). */
  relaying(key: string): boolean {
    const held = this.#held.get(key);
    return held !== undefined && "relay" in held;
  }

  /** Connections (TCP) or peer sessions (UDP) the binding's relay has open. */
  sessions(key: string): number {
    const held = this.#held.get(key);
    return held !== undefined && "relay" in held ? held.relay.sessions() : 0;
  }

  /**
   * Keys of every socket the relays hold in the VM, and of those closed in
   * the last seconds (a scan read before the close may still arrive).
   */
  openKeys(): string[] {
    const now = performance.now();
    for (const [key, until] of this.#closedKeys) {
      if (until <= now) this.#closedKeys.delete(key);
    }
    const keys = new Set(this.#closedKeys.keys());
    for (const held of this.#held.values()) {
      if ("relay" in held) {
        for (const key of held.relay.boundKeys()) keys.add(key);
      }
    }
    return [...keys].sort();
  }

  /** Closes every relay. */
  async close(): Promise<void> {
    const relays = [...this.#held.values()].flatMap((held) =>
      "relay" in held ? [held.relay] : []
    );
    this.#held.clear();
    await Promise.all(relays.map((relay) => this.#closeRelay(relay)));
  }

  async #closeRelay(relay: Relay): Promise<void> {
    const until = performance.now() + CLOSED_KEYS_GRACE_MS;
    for (const key of relay.boundKeys()) this.#closedKeys.set(key, until);
    relay.close();
    await relay.done;
  }
}
