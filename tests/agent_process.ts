/**
 * The agent as a separate process (`deno run --allow-all main.ts …`), as
 * end-to-end tests start it, and the collection of its output.
 *
 * @module
 */

import { AGENT_RUN_FLAGS } from "./agent_runtime.ts";

const ROOT = new URL("../", import.meta.url);

/** Text read from a stream so far, and when the stream has ended. */
export interface CollectedText {
  /** Everything read so far. */
  text(): string;
  /** Resolves when the stream ends. */
  readonly done: Promise<void>;
}

/** Collects a process's stdout or stderr as text while it runs. */
export function collectText(stream: ReadableStream<Uint8Array>): CollectedText {
  let text = "";
  const decoder = new TextDecoder();
  const done = stream.pipeTo(
    new WritableStream({
      write: (chunk) => void (text += decoder.decode(chunk, { stream: true })),
    }),
  );
  return { text: () => text, done };
}

/**
 * The prefix that runs a program in a private mount namespace, when root:
 * an agent under test that mounts tracefs (as the program does, run as
 * root) mounts it there, not on the machine. `unshare` execs the program,
 * so its PID is the program's. Empty when not root (nothing is mounted).
 */
export function privateMounts(): string[] {
  return Deno.uid() === 0
    ? ["unshare", "--mount", "--propagation", "private"]
    : [];
}

/** A running agent process with its stderr collected. */
export interface AgentProcess {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Its log (stderr). */
  readonly stderr: CollectedText;
}

/**
 * Starts `main.ts` from the repository root with `args` and the start task's
 * Deno flags, stdin and stdout closed, colours off, in a private mount
 * namespace when root ({@linkcode privateMounts}); inside a network
 * namespace when `enter` (its nsenter prefix) is given. Its log is collected,
 * or with `log: "discard"` thrown away as a service manager's /dev/null would
 * (benchmarks beside another agent: reading the log would load this process
 * while it measures). `env` adds to its environment (e.g.
 * `GUEST_AGENT_STAGE_PROFILE`).
 */
export function spawnAgentProcess(
  args: readonly string[],
  enter: readonly string[] = [],
  log: "collect" | "discard" = "collect",
  env: Readonly<Record<string, string>> = {},
): AgentProcess {
  const [program, ...prefix] = [
    ...privateMounts(),
    ...enter.length > 0 ? [...enter, "--"] : [],
    Deno.execPath(),
  ];
  const child = new Deno.Command(program!, {
    args: [
      ...prefix,
      "run",
      ...AGENT_RUN_FLAGS,
      "main.ts",
      ...args,
      // Not the machine's /run/guest-agent, unless the test asks for one.
      ...args.some((arg) => arg.startsWith("--control-socket"))
        ? []
        : ["--control-socket="],
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: log === "collect" ? "piped" : "null",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  return {
    child,
    stderr: log === "collect"
      ? collectText(child.stderr)
      : { text: () => "", done: child.status.then(() => {}) },
  };
}
