/**
 * The confirmation rule of the /proc/net source: a socket is published
 * once two scans at least `confirmMs` apart saw it, with every scan between
 * them seeing it too. Short-lived sockets (nerdctl's port reservation,
 * RD#10336) are never forwarded, and the second look costs `confirmMs`,
 * not a scan interval.
 *
 * @module
 */

/** Keys seen in every scan since they appeared, with when they appeared. */
export type Sightings = ReadonlyMap<string, number>;

/** The outcome of one scan. */
export interface Confirmation {
  /** The sightings to pass to the next scan. */
  readonly sightings: Map<string, number>;
  /** The keys to publish now. */
  readonly confirmed: Set<string>;
  /** When the earliest unconfirmed key can be confirmed; undefined: none waits. */
  readonly confirmAt?: number;
}

/**
 * Applies one scan: keys missing from it are dropped at once, new keys
 * start waiting, keys seen for `confirmMs` are confirmed.
 *
 * @param previous The sightings after the previous scan.
 * @param current The keys this scan saw.
 * @param now When this scan ran (ms, any monotonic clock).
 * @param confirmMs How long a key must be seen before it is published.
 */
export function confirmScan(
  previous: Sightings,
  current: Iterable<string>,
  now: number,
  confirmMs: number,
): Confirmation {
  const sightings = new Map<string, number>();
  const confirmed = new Set<string>();
  let confirmAt: number | undefined;
  for (const key of current) {
    const since = previous.get(key) ?? now;
    sightings.set(key, since);
    if (since !== now && now - since >= confirmMs) confirmed.add(key);
    else confirmAt = Math.min(confirmAt ?? Infinity, since + confirmMs);
  }
  return confirmAt === undefined
    ? { sightings, confirmed }
    : { sightings, confirmed, confirmAt };
}
