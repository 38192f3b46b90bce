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

/** A running agent process with its stderr collected. */
export interface AgentProcess {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Its log (stderr). */
  readonly stderr: CollectedText;
}

/**
 * Starts `main.ts` from the repository root with `args` and the start task's
 * Deno flags, stdin and stdout closed, colours off; inside a network
 * namespace when `enter` (its nsenter prefix) is given. Its log is collected,
 * or with `log: "discard"` thrown away as a service manager's /dev/null would
 * (benchmarks beside another agent: reading the log would load this process
 * while it measures).
 */
export function spawnAgentProcess(
  args: readonly string[],
  enter: readonly string[] = [],
  log: "collect" | "discard" = "collect",
): AgentProcess {
  const [program, ...prefix] = enter.length > 0
    ? [...enter, "--", Deno.execPath()]
    : [Deno.execPath()];
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
    env: { NO_COLOR: "1" },
  }).spawn();
  return {
    child,
    stderr: log === "collect"
      ? collectText(child.stderr)
      : { text: () => "", done: child.status.then(() => {}) },
  };
}
