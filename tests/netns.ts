/**
 * Network namespaces for tests that change iptables or run daemons: never
 * in the machine's own namespace (docs/testing.md).
 *
 * @module
 */
import { type CommandResult, runCommand } from "../support/run_command.ts";

export type { CommandResult };

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
  /** Starts a program inside it (stdin, stdout, stderr as `io` says). */
  spawn(
    args: readonly string[],
    io?: Pick<Deno.CommandOptions, "stdin" | "stdout" | "stderr" | "env">,
  ): Deno.ChildProcess;
  /** Deletes the namespace. */
  delete(): Promise<void>;
}

/**
 * Runs `args[0]` with the rest as its arguments (no shell), stdin closed.
 *
 * @param args The program and its arguments.
 * @returns Its exit code and output; never rejects for a non-zero exit.
 */
export function exec(args: readonly string[]): Promise<CommandResult> {
  return runCommand(args[0]!, args.slice(1));
}

/**
 * Spawning in the machine's own namespace, for processes that only use
 * loopback (stands in where a TestNamespace's spawn is expected).
 */
export const HOST_NAMESPACE: Pick<TestNamespace, "spawn"> = {
  spawn: (args, io = {}) =>
    new Deno.Command(args[0]!, {
      args: args.slice(1),
      stdin: "null",
      ...io,
    }).spawn(),
};

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
    spawn: (args, io = {}) =>
      new Deno.Command(enter[0]!, {
        args: [...enter.slice(1), "--", ...args],
        stdin: "null",
        ...io,
      }).spawn(),
    async delete() {
      await exec(["ip", "netns", "del", name]);
    },
  };
}

/**
 * Loads NAT rules with `iptables-restore --noflush` inside `ns`.
 *
 * @param text iptables-save format, `*nat` … `COMMIT`.
 */
export async function restoreNat(
  ns: TestNamespace,
  text: string,
): Promise<void> {
  const child = ns.spawn(["iptables-restore", "--noflush"], {
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  if (output.code !== 0) {
    throw new Error(
      `iptables-restore: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/**
 * How tracefs stands in a private mount namespace:
 * - `mounted`: mounted at /sys/kernel/tracing (the kernel events work);
 * - `unmounted`: not mounted anywhere, as on a fresh VM (the agent, run as
 *   root with kernel events on, mounts it itself);
 * - `hidden`: /sys/kernel under an empty read-only tmpfs, so tracefs is
 *   neither there nor mountable (the polling fallback).
 */
export type TracefsSetup = "mounted" | "unmounted" | "hidden";

/**
 * Spawns in `ns` through a private mount namespace (unshare execs: the PID
 * is the program's) where tracefs is as `tracefs` says. Nothing outside
 * sees any of it.
 */
export function withTracefs(
  ns: Pick<TestNamespace, "enter">,
  tracefs: TracefsSetup,
): Pick<TestNamespace, "spawn"> {
  const unmount =
    'for d in /sys/kernel/debug/tracing /sys/kernel/tracing; do if mountpoint -q "$d"; then umount -l "$d" || exit 97; fi; done';
  const script = {
    mounted:
      'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || exit 97; exec "$@"',
    unmounted: `${unmount}; exec "$@"`,
    hidden: `mount -t tmpfs -o ro none /sys/kernel || exit 97; exec "$@"`,
  }[tracefs];
  return {
    spawn: (args, io = {}) =>
      new Deno.Command("unshare", {
        args: [
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          script,
          "sh",
          ...ns.enter.length > 0 ? [...ns.enter, "--"] : [],
          ...args,
        ],
        stdin: "null",
        ...io,
      }).spawn(),
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
