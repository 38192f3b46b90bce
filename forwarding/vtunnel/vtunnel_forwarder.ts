/**
 * The privileged-service forwarder: one PortMapping message per binding
 * change to the vtunnel peer, the wsl-proxy socket, or AF_VSOCK.
 *
 * @module
 */
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import type { Forwarder } from "../forwarder.ts";
import type { VtunnelTarget } from "../vtunnel_target.ts";
import {
  type ConnectAddr,
  interfaceConnectAddrs,
  portMappingLine,
} from "./port_mapping.ts";
import { type MessageSender, sendOverStream } from "./send_message.ts";

/** Options of {@linkcode VtunnelForwarder}. */
export interface VtunnelForwarderOptions {
  /** The interface whose addresses go in connectAddrs. @default "eth0" */
  readonly interfaceName?: string;
  /** Time for connect + write + close, in ms. @default 3000 */
  readonly timeoutMs?: number;
  /** Lists the VM's interfaces. @default Deno.networkInterfaces */
  readonly networkInterfaces?: () => Deno.NetworkInterfaceInfo[];
  /** Sends one message. @default TCP and unix via Deno.connect */
  readonly send?: MessageSender;
}

const encoder = new TextEncoder();

/**
 * Sends `{"remove":false|true,"ports":{…},"connectAddrs":[…]}` lines, one
 * connection each, closed after writing; there is no acknowledgement, so a
 * message counts as delivered once written. Over the wsl-proxy unix socket
 * connectAddrs is null; otherwise it lists the interface's addresses, and a
 * message waits (fails and is retried) while the interface has none.
 */
export class VtunnelForwarder implements Forwarder {
  /** "vtunnel". */
  readonly name = "vtunnel";
  /** Messages in flight at once. */
  readonly concurrency = 16;
  #target: VtunnelTarget;
  #interfaceName: string;
  #timeoutMs: number;
  #interfaces: () => Deno.NetworkInterfaceInfo[];
  #send: MessageSender;

  /**
   * Creates the forwarder for one target.
   *
   * @param target Where messages go (see parseVtunnelTarget).
   * @param options Interface, timeout, and replacements for tests.
   */
  constructor(target: VtunnelTarget, options: VtunnelForwarderOptions = {}) {
    this.#target = target;
    this.#interfaceName = options.interfaceName ?? "eth0";
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#interfaces = options.networkInterfaces ??
      (() => Deno.networkInterfaces());
    this.#send = options.send ?? sendOverStream;
  }

  /** Sends the add message. */
  add(binding: TrackedBinding): Promise<void> {
    return this.#deliver(binding, false);
  }

  /** Sends the remove message. */
  remove(binding: TrackedBinding): Promise<void> {
    return this.#deliver(binding, true);
  }

  #connectAddrs(): ConnectAddr[] | null {
    if (this.#target.transport === "unix") return null;
    // Read every time: WSL may bring the interface up after the agent.
    const addrs = interfaceConnectAddrs(
      this.#interfaces(),
      this.#interfaceName,
    );
    if (addrs.length === 0) {
      throw new Error(
        `${this.#interfaceName} has no address yet; the host side needs one to connect to`,
      );
    }
    return addrs;
  }

  async #deliver(binding: TrackedBinding, remove: boolean): Promise<void> {
    const line = portMappingLine(binding, remove, this.#connectAddrs());
    await this.#send(this.#target, encoder.encode(line), this.#timeoutMs);
  }
}
