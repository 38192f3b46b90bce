/**
 * Where PortMapping messages go: the `-vtunnelAddr` value, parsed.
 *
 * @module
 */
import { isIpv4, isIpv6, isPort } from "../binding/ip.ts";

/** A privileged-service peer: TCP (vtunnel), a unix socket (wsl-proxy), or AF_VSOCK. */
export type VtunnelTarget =
  | {
    readonly transport: "tcp";
    readonly hostname: string;
    readonly port: number;
  }
  | { readonly transport: "unix"; readonly path: string }
  | {
    readonly transport: "vsock";
    readonly cid: number;
    readonly port: number;
  };

const ACCEPTED =
  "accepted forms are host:port, tcp://host:port, unix:///absolute/path and vsock://cid:port";

/**
 * Parses `-vtunnelAddr`: `127.0.0.1:3040`, `tcp://127.0.0.1:3040`,
 * `unix:///run/wsl-proxy.sock` or `vsock://2:17381`.
 *
 * @param text The flag's value.
 * @returns The target.
 * @throws {TypeError} Naming the accepted forms.
 */
export function parseVtunnelTarget(text: string): VtunnelTarget {
  const bad = (why: string) =>
    new TypeError(
      `Cannot use ${JSON.stringify(text.slice(0, 80))}: ${why}; ${ACCEPTED}`,
    );
  if (text.startsWith("unix://")) {
    const path = text.slice("unix://".length);
    if (!path.startsWith("/") || path.length > 107) {
      throw bad("a unix socket needs an absolute path of at most 107 bytes");
    }
    return { transport: "unix", path };
  }
  if (text.startsWith("vsock://")) {
    const match = /^(\d{1,10}):(\d{1,10})$/.exec(text.slice("vsock://".length));
    const cid = Number(match?.[1]);
    const port = Number(match?.[2]);
    if (!match || cid > 0xffffffff || port < 1 || port > 0xffffffff) {
      throw bad("vsock needs a numeric CID and port");
    }
    return { transport: "vsock", cid, port };
  }
  const rest = text.startsWith("tcp://") ? text.slice("tcp://".length) : text;
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(rest);
  const hostname = match?.[1] ?? match?.[2] ?? "";
  const port = Number(match?.[3]);
  if (!match || !isPort(port)) {
    throw bad("expected a host and a port from 1 to 65535");
  }
  if (match[1] !== undefined && !isIpv6(hostname)) {
    throw bad("not an IPv6 address");
  }
  if (
    match[2] !== undefined && !isIpv4(hostname) &&
    !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(hostname)
  ) {
    throw bad("not a host name or IPv4 address");
  }
  return { transport: "tcp", hostname, port };
}
