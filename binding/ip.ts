/**
 * IP address and port checks, and the one normal form of a host address
 * (sources, the CLI and the forwarders all use it).
 *
 * @module
 */

const IPV4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Returns true when `text` is an IPv4 address in dotted-quad form. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => IPV4_PART.test(part));
}

function parseIpv6Groups(text: string): number[] | undefined {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const toGroups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const groups: number[] = [];
    const pieces = half.split(":");
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes(".")) {
        if (!isIpv4(piece)) return undefined;
        const [a, b, c, d] = piece.split(".").map(Number) as [
          number,
          number,
          number,
          number,
        ];
        groups.push(a * 256 + b, c * 256 + d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = toGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? toGroups(halves[1] ?? "") : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** Formats eight 16-bit groups as RFC 5952 text (lowercase, longest zero run as "::"). */
function formatIpv6Groups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${
    hex.slice(bestStart + bestLength).join(":")
  }`;
}

/** Returns true when `text` is an IPv6 address (without brackets or zone). */
export function isIpv6(text: string): boolean {
  return parseIpv6Groups(text) !== undefined;
}

/**
 * Normalises a host address as sources report it: "" means all IPv4
 * addresses ("0.0.0.0"), brackets are dropped, IPv6 is written in RFC 5952
 * form, and an IPv4 address keeps its dotted form.
 *
 * @param hostIp The address as the source reported it.
 * @returns The normalised address.
 * @throws {TypeError} When `hostIp` is not an IP address.
 *
 * @example
 * ```ts
 * import { normaliseHostIp } from "./ip.ts";
 * normaliseHostIp("[0:0::0]"); // "::"
 * ```
 */
export function normaliseHostIp(hostIp: string): string {
  const trimmed = hostIp.trim().replace(/^\[(.*)\]$/, "$1");
  if (trimmed === "") return "0.0.0.0";
  if (isIpv4(trimmed)) return trimmed;
  const groups = parseIpv6Groups(trimmed);
  if (groups === undefined) {
    throw new TypeError(
      `Cannot use host address ${
        JSON.stringify(hostIp.slice(0, 64))
      }: not an IPv4 or IPv6 address`,
    );
  }
  return formatIpv6Groups(groups);
}

/** Returns true for an integer port number from 1 to 65535. */
export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 &&
    value <= 65535;
}
