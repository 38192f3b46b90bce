/**
 * The WSL proxy forwarder: Rancher Desktop's wsl-proxy, in the WSL default
 * namespace, listens on a unix socket (`/run/wsl-proxy.sock`) and, for each
 * PortMapping it reads, opens (or closes) a listener on the binding's host
 * address and port that relays to the Rancher Desktop namespace. That is how
 * other WSL distributions reach a published port. Today's in-tree Go agent
 * writes it the same PortMapping JSON as the privileged service takes, with
 * `connectAddrs` null, one connection per message, beside its host-switch
 * calls (docs/protocols.md, "WSL proxy").
 *
 * IPv4 only, as the in-tree agent sends it: the proxy keeps one listener per
 * port number, so an IPv6 twin (`::` beside `0.0.0.0`) would collide with the
 * IPv4 listener, and its removal would close it.
 *
 * @module
 */
import { type Forwarder, HostSideUnreachableError } from "../forwarder.ts";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import { portMappingLine } from "../privileged_service/port_mapping.ts";
import {
  type MessageSender,
  sendOverStream,
} from "../privileged_service/send_message.ts";
import { isIpv4 } from "../../binding/ip.ts";

/** Why an IPv6 binding is not sent to the WSL proxy. */
export const WSL_PROXY_IPV6_REASON =
  "IPv6: the WSL proxy keeps one listener per port, given IPv4 bindings only";

/** Options of {@linkcode WslProxyForwarder}. */
export interface WslProxyForwarderOptions {
  /** A message that takes longer fails and is retried, in ms. @default 3000 */
  readonly timeoutMs?: number;
  /** Sends one message (tests replace it). @default sendOverStream */
  readonly send?: MessageSender;
}

const encoder = new TextEncoder();

/** Sends each IPv4 binding's add and remove to the WSL proxy's socket. */
export class WslProxyForwarder implements Forwarder {
  /** "wsl-proxy". */
  readonly name = "wsl-proxy";
  /** Messages in flight at once. */
  readonly concurrency = 16;
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #send: MessageSender;

  /**
   * Creates the forwarder for the proxy's socket.
   *
   * @param path The WSL proxy's unix socket (absolute).
   * @param options Timeout, and a sender for tests.
   */
  constructor(path: string, options: WslProxyForwarderOptions = {}) {
    this.#path = path;
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#send = options.send ?? sendOverStream;
  }

  /** IPv6 bindings are not sent (see the module's note). */
  skipReason(tracked: TrackedBinding): string | undefined {
    return isIpv4(tracked.binding.hostIp) ? undefined : WSL_PROXY_IPV6_REASON;
  }

  /** Sends the add message. */
  add(binding: TrackedBinding): Promise<void> {
    return this.#deliver(binding, false);
  }

  /** Sends the remove message. */
  remove(binding: TrackedBinding): Promise<void> {
    return this.#deliver(binding, true);
  }

  async #deliver(binding: TrackedBinding, remove: boolean): Promise<void> {
    const line = portMappingLine(binding, remove, null);
    try {
      await this.#send(
        { transport: "unix", path: this.#path },
        encoder.encode(line),
        this.#timeoutMs,
      );
    } catch (error) {
      // One text for every binding while the proxy is away: the queue logs
      // a cause once, not once per binding.
      const cause = error instanceof Error ? error.cause ?? error : error;
      const away = cause instanceof Deno.errors.NotFound
        ? "its socket does not exist (yet)"
        : cause instanceof Deno.errors.ConnectionRefused
        ? "nothing listens on its socket"
        : undefined;
      if (away) {
        throw new HostSideUnreachableError(
          `Cannot send to the WSL proxy at ${this.#path}: ${away}`,
          { cause },
        );
      }
      throw new Error(
        `Cannot send to the WSL proxy at ${this.#path}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause },
      );
    }
  }
}
