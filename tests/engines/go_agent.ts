/**
 * The Go agent v0.3.19 (rancher-sandbox/rancher-desktop-agent, the program
 * this one replaces) from the peers directory, started in privileged mode as
 * its README there runs it: as root, in a private mount namespace with the
 * test's dockerd socket at `/var/run/docker.sock` (the fixed path it checks
 * before it connects, whatever `DOCKER_HOST` says). See docs/testing.md,
 * "The real peers".
 *
 * @module
 */
import { peerPath } from "./peers.ts";

/** The Go agent's binary: `$GO_AGENT`, else the one in the peers directory. */
export const GO_AGENT_PATH: string = Deno.env.get("GO_AGENT") ??
  peerPath("rancher-desktop-guestagent-v0.3.19");

/** Whether the Go agent's binary is there. */
export async function haveGoAgent(): Promise<boolean> {
  return await Deno.stat(GO_AGENT_PATH).then((s) => s.isFile, () => false);
}

/** How {@linkcode spawnGoAgent} starts it. */
export interface GoAgentOptions {
  /** dockerd's socket. */
  readonly dockerSocket: string;
  /** The TCP port on 127.0.0.1 its PortMapping messages go to. */
  readonly vtunnelPort: number;
  /** A command prefix that enters a network namespace (nsenter), or none. */
  readonly enter?: readonly string[];
  /** Its log: piped to the caller, or thrown away. @default "null" */
  readonly stderr?: "piped" | "null";
}

/**
 * Starts the Go agent with `-docker -privilegedService -iptables=false
 * -kubernetes=false`. It waits 5 s before it first looks at Docker.
 */
export function spawnGoAgent(options: GoAgentOptions): Deno.ChildProcess {
  const enter = options.enter ?? [];
  const [program, ...prefix] = [
    ...enter.length > 0 ? [...enter, "--"] : [],
    "unshare",
  ];
  return new Deno.Command(program!, {
    args: [
      ...prefix,
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      'mount -t tmpfs tmpfs /run && : > /run/docker.sock && mount --bind "$SOCK" /run/docker.sock && exec env DOCKER_HOST="unix://$SOCK" "$AGENT" -docker -privilegedService -vtunnelAddr "127.0.0.1:$PORT" -iptables=false -kubernetes=false',
    ],
    env: {
      SOCK: options.dockerSocket,
      AGENT: GO_AGENT_PATH,
      PORT: String(options.vtunnelPort),
    },
    stdin: "null",
    stdout: "null",
    stderr: options.stderr ?? "null",
  }).spawn();
}
