/**
 * The flags the service files pass by default: packaging/guest-agent-flags
 * run with the variables of packaging/rancher-desktop-guestagent.confd, as
 * both the OpenRC script and the systemd unit do. End-to-end tests start
 * the agent with these, plus only what points it at the test's peers.
 *
 * @module
 */
import { exec } from "./netns.ts";

const PACKAGING = new URL("../packaging/", import.meta.url);

/**
 * The default service flags, with `overrides` of GUESTAGENT_* variables.
 *
 * @returns The flags, one argument each.
 */
export async function serviceFlags(
  overrides: Readonly<Record<string, string>> = {},
): Promise<string[]> {
  const confd = new URL("rancher-desktop-guestagent.confd", PACKAGING).pathname;
  const script = new URL("guest-agent-flags", PACKAGING).pathname;
  const assignments = Object.entries(overrides)
    .map(([name, value]) => `${name}='${value}'`).join(" ");
  const result = await exec([
    "sh",
    "-c",
    `set -a; . '${confd}'; ${assignments} sh '${script}'`,
  ]);
  if (result.code !== 0) {
    throw new Error(`guest-agent-flags failed: ${result.stderr}`);
  }
  return result.stdout.trim().split(/\s+/).filter(Boolean);
}

/** Reads the control API at `socket` (`/v1/ports`, `/v1/status`). */
export async function readControl(
  socket: string,
  path: string,
): Promise<unknown> {
  const client = Deno.createHttpClient({
    proxy: { transport: "unix", path: socket },
  });
  try {
    const response = await fetch(`http://agent${path}`, { client });
    return await response.json();
  } finally {
    client.close();
  }
}
