/**
 * Runs tests/fixtures/agent_in_netns.ts inside a test's network namespace
 * and follows its JSON lines: what the agent forwards now, and waiting for
 * a condition on it.
 *
 * @module
 */
import { waitFor } from "./wait.ts";
import { AGENT_RUN_FLAGS } from "./agent_runtime.ts";
import type { TestNamespace } from "./netns.ts";

const FIXTURE = new URL("./fixtures/agent_in_netns.ts", import.meta.url);

/** One line the agent printed. */
export interface AgentLine {
  /** Wall-clock ms (see wallClockMs). */
  readonly at: number;
  /** A binding key added. */
  readonly add?: string;
  /** A binding key removed. */
  readonly remove?: string;
  /** Every source's status, once all are connected. */
  readonly status?: unknown[];
  /** A port message. */
  readonly message?: { readonly type: string };
  /** Its source. */
  readonly source?: string;
}

/** An agent process in a namespace. */
export interface NetnsAgent {
  /** The agent process's PID (nsenter execs deno: the same process). */
  readonly pid: number;
  /** Every line so far. */
  readonly lines: AgentLine[];
  /** The binding keys forwarded now. */
  readonly keys: Set<string>;
  /** Waits until `check` holds, or rejects after `timeoutMs` with the keys. */
  until(check: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Its log (stderr) so far. */
  log(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number>;
}

/**
 * Starts the agent in `ns` with these option overrides (of DEFAULT_OPTIONS)
 * and waits until every source is connected.
 */
export async function startNetnsAgent(
  ns: Pick<TestNamespace, "spawn">,
  overrides: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<NetnsAgent> {
  const child = ns.spawn(
    [
      Deno.execPath(),
      "run",
      ...AGENT_RUN_FLAGS,
      FIXTURE.pathname,
      JSON.stringify(overrides),
    ],
    {
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    },
  );
  const lines: AgentLine[] = [];
  const keys = new Set<string>();
  let stderr = "";
  let ended = false;
  const decoder = new TextDecoder();
  const errors = child.stderr.pipeTo(
    new WritableStream({
      write: (chunk) =>
        void (stderr += decoder.decode(chunk, { stream: true })),
    }),
  );
  let partial = "";
  const reading = child.stdout.pipeTo(
    new WritableStream({
      write(chunk) {
        partial += decoder.decode(chunk, { stream: true });
        const complete = partial.split("\n");
        partial = complete.pop() ?? "";
        for (const text of complete) {
          if (text.trim() === "") continue;
          const line = JSON.parse(text) as AgentLine;
          lines.push(line);
          if (line.add !== undefined) keys.add(line.add);
          if (line.remove !== undefined) keys.delete(line.remove);
        }
      },
    }),
  ).finally(() => ended = true);

  const until = (check: () => boolean, what: string, timeoutMs = 20_000) =>
    waitFor(
      check,
      timeoutMs,
      () => ` for ${what}: have ${JSON.stringify([...keys].sort())}`,
      {
        intervalMs: 5,
        gaveUp: () =>
          ended ? `the agent exited (${stderr.slice(-2000)})` : undefined,
      },
    );
  const agent: NetnsAgent = {
    pid: child.pid,
    lines,
    keys,
    until,
    log: () => stderr,
    async stop() {
      if (!ended) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
      }
      const { code } = await child.status;
      await Promise.allSettled([reading, errors]);
      return code;
    },
  };
  try {
    await until(
      () => lines.some((line) => line.status),
      "every source connected",
    );
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}
