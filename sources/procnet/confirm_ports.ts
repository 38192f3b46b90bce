/**
 * The two-scan rule of the /proc/net source.
 *
 * @module
 */

/**
 * The keys to publish after a scan: those seen in this scan and the one
 * before (nerdctl's short-lived reservation socket must not be forwarded).
 * A key missing from this scan is dropped at once.
 *
 * @param previous Keys seen in the previous scan.
 * @param current Keys seen in this scan.
 * @returns The keys to publish.
 */
export function confirmedKeys(
  previous: ReadonlySet<string>,
  current: ReadonlySet<string>,
): Set<string> {
  const confirmed = new Set<string>();
  for (const key of current) if (previous.has(key)) confirmed.add(key);
  return confirmed;
}
