/**
 * Network namespaces for tests that change iptables or run daemons: never
 * in the machine's own namespace (DEVELOPERS.md, sandbox rules).
 *
 * @module
 */

/** A namespace the test created; `delete()` removes it and its rules. */
export interface TestNamespace {
  /** Its name under /run/netns. */
  readonly name: string;
  /** A command prefix that runs a program inside it (nsenter, not ip netns exec). */
  readonly enter: readonly string[];
  /** Runs a program inside it and returns its output. */
  run(
    args: readonly string[],
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Deletes the namespace. */
  delete(): Promise<void>;
}

/** What a finished command printed and its exit code. */
export interface CommandResult {
  /** Exit code. */
  readonly code: number;
  /** Standard output, decoded. */
  readonly stdout: string;
  /** Standard error, decoded. */
  readonly stderr: string;
}

/**
 * Runs `args[0]` with the rest as its arguments (no shell), stdin closed.
 *
 * @param args The program and its arguments.
 * @returns Its exit code and output; never rejects for a non-zero exit.
 */
export async function exec(args: readonly string[]): Promise<CommandResult> {
  const output = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Creates a namespace with its loopback up. */
export async function createTestNamespace(
  prefix = "ga-test",
): Promise<TestNamespace> {
  const name = `${prefix}-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;
  const added = await exec(["ip", "netns", "add", name]);
  if (added.code !== 0) {
    throw new Error(`Cannot create netns ${name}: ${added.stderr}`);
  }
  const enter = ["nsenter", `--net=/run/netns/${name}`];
  await exec([...enter, "ip", "link", "set", "lo", "up"]);
  return {
    name,
    enter,
    run: (args) => exec([...enter, ...args]),
    async delete() {
      await exec(["ip", "netns", "del", name]);
    },
  };
}

/** Whether namespaces can be made here (root and iproute2). */
export async function canCreateNamespaces(): Promise<boolean> {
  if (Deno.uid() !== 0) return false;
  try {
    return (await exec(["ip", "netns", "list"])).code === 0;
  } catch {
    return false;
  }
}
