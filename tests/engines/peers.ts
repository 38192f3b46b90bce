/**
 * Where the real peers are: programs nobody on this project wrote (gvproxy
 * builds, a kube-apiserver with its start and stop scripts, the Go agent
 * this one replaces), kept outside the repository in a `peers` directory.
 * By default it is `../shared/peers` from the repository's root; the
 * `GUEST_AGENT_PEERS` environment variable names another. See
 * docs/testing.md, "The real peers".
 *
 * @module
 */

/** The environment variable that names the peers directory. */
export const PEERS_VARIABLE = "GUEST_AGENT_PEERS";

/** The peers directory, with a trailing slash. */
export function peersDir(): string {
  const chosen = Deno.env.get(PEERS_VARIABLE);
  if (chosen) return chosen.endsWith("/") ? chosen : `${chosen}/`;
  return new URL("../../../shared/peers/", import.meta.url).pathname;
}

/** The path of the peer `name` (a file in the peers directory). */
export function peerPath(name: string): string {
  return `${peersDir()}${name}`;
}
