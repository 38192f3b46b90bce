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
import {
  type ChangeSubscription,
  subscribeNetlinkChanges,
} from "../../support/netlink_changes.ts";
import {
  NETLINK_ROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_LINK,
} from "../../support/netlink.ts";
import { getLogger } from "@logtape/logtape";

/** Options of {@linkcode PrivilegedServiceForwarder}. */
export interface PrivilegedServiceForwarderOptions {
  /** The interface whose addresses go in connectAddrs. @default "eth0" */
  readonly interfaceName?: string;
  /** Time for connect + write + close, in ms. @default 3000 */
  readonly timeoutMs?: number;
  /** Lists the VM's interfaces. @default Deno.networkInterfaces */
  readonly networkInterfaces?: () => Deno.NetworkInterfaceInfo[];
  /** Sends one message. @default TCP and unix via Deno.connect */
  readonly send?: MessageSender;
  /**
   * Reports interface and address changes (rtnetlink, see
   * {@linkcode subscribeAddressChanges}). With it, connectAddrs are read
   * once and again only after a change; without it (or once it fails),
   * for every message.
   */
  readonly addressChanges?: ChangeSubscription;
}

const encoder = new TextEncoder();

/**
 * Sends `{"remove":false|true,"ports":{…},"connectAddrs":[…]}` lines, one
 * connection each, closed after writing; there is no acknowledgement, so a
 * message counts as delivered once written. Over the wsl-proxy unix socket
 * connectAddrs is null; otherwise it lists the interface's addresses, and a
 * message waits (fails and is retried) while the interface has none.
 */
export class PrivilegedServiceForwarder implements Forwarder {
  /** "privileged-service". */
  readonly name = "privileged-service";
  /** Messages in flight at once. */
  readonly concurrency = 16;
  #target: VtunnelTarget;
  #interfaceName: string;
  #timeoutMs: number;
  #interfaces: () => Deno.NetworkInterfaceInfo[];
  #send: MessageSender;
  /** connectAddrs as last read; undefined: read at the next message. */
  #addrs: ConnectAddr[] | undefined;
  /** Address changes are reported: the last read holds until one comes. */
  #following = false;
  readonly #stopFollowing = new AbortController();
  #followed: Promise<void> = Promise.resolve();

  /**
   * Creates the forwarder for one target.
   *
   * @param target Where messages go (see parseVtunnelTarget).
   * @param options Interface, timeout, and replacements for tests.
   */
  constructor(
    target: VtunnelTarget,
    options: PrivilegedServiceForwarderOptions = {},
  ) {
    this.#target = target;
    this.#interfaceName = options.interfaceName ?? "eth0";
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#interfaces = options.networkInterfaces ??
      (() => Deno.networkInterfaces());
    this.#send = options.send ?? sendOverStream;
    if (options.addressChanges && target.transport !== "unix") {
      this.#follow(options.addressChanges);
    }
  }

  #follow(changes: ChangeSubscription): void {
    this.#following = true;
    this.#followed = changes(
      () => this.#addrs = undefined,
      this.#stopFollowing.signal,
    ).catch((error) => {
      getLogger(["guest-agent", "forwarder", "privileged-service"]).warn(
        "privileged-service: cannot follow {name}'s address changes ({error}); reading its addresses for every message",
        { name: this.#interfaceName, error: (error as Error).message },
      );
    }).finally(() => {
      this.#following = false;
      this.#addrs = undefined;
    });
  }

  /** Stops following address changes. */
  async close(): Promise<void> {
    this.#stopFollowing.abort();
    await this.#followed;
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
    if (this.#addrs !== undefined) return this.#addrs;
    // WSL may bring the interface up after the agent: read again after each
    // change (or every time when changes are not followed).
    const addrs = interfaceConnectAddrs(
      this.#interfaces(),
      this.#interfaceName,
    );
    if (addrs.length === 0) {
      throw new Error(
        `Cannot send to the privileged service yet: ${this.#interfaceName} has no address for it to connect to`,
      );
    }
    if (this.#following) this.#addrs = addrs;
    return addrs;
  }

  async #deliver(binding: TrackedBinding, remove: boolean): Promise<void> {
    const line = portMappingLine(binding, remove, this.#connectAddrs());
    await this.#send(this.#target, encoder.encode(line), this.#timeoutMs);
  }
}

/**
 * Subscribes to the kernel's interface and address changes (rtnetlink
 * groups for links, IPv4 and IPv6 addresses; no root needed), for
 * {@linkcode PrivilegedServiceForwarderOptions.addressChanges}.
 *
 * @param libcPath Absolute path of libc.
 * @throws {Error} When the kernel refuses the subscription.
 */
export function subscribeAddressChanges(libcPath: string): ChangeSubscription {
  return subscribeNetlinkChanges(
    libcPath,
    NETLINK_ROUTE,
    [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
    "interface address notifications",
  );
}
