/**
 * The guest-agent command: parses the flags, runs the agent until SIGTERM
 * or SIGINT, then removes every forwarded binding and exits.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { parseCommandLine } from "./cli/cli.ts";
import { CONTROL_COMMANDS, runControlCommand } from "./cli/control_commands.ts";
import { AgentStartError, startAgent } from "./agent/run_agent.ts";
import { setupLogging } from "./support/logging.ts";
import {
  describeTracefsOutcome,
  mountTracefs,
} from "./sources/procnet/main_thread/mount_tracefs.ts";
import { StageProfile } from "./support/stage_profile.ts";

const encoder = new TextEncoder();

/** Writes what a command printed. */
function print(output: { readonly stdout: string; readonly stderr: string }) {
  if (output.stdout) Deno.stdout.writeSync(encoder.encode(output.stdout));
  if (output.stderr) Deno.stderr.writeSync(encoder.encode(output.stderr));
}

/** SIGTERM and SIGINT, once listened for, until disposed. */
interface StopSignals {
  /** The first of the two to arrive. */
  readonly first: Promise<Deno.Signal>;
  /** From now on a second signal is logged, and a late SIGINT exits 1. */
  whileStopping(logger: Logger): void;
  /** Stops listening. */
  dispose(): void;
}

function listenForStop(): StopSignals {
  let signalled!: (signal: Deno.Signal) => void;
  const first = new Promise<Deno.Signal>((resolve) => signalled = resolve);
  const listeners: [Deno.Signal, () => void][] = [];
  const listen = (signal: Deno.Signal, handler: () => void) => {
    Deno.addSignalListener(signal, handler);
    listeners.push([signal, handler]);
  };
  const names = ["SIGTERM", "SIGINT"] as const;
  for (const name of names) listen(name, () => signalled(name));
  return {
    first,
    whileStopping(logger) {
      const firstAt = performance.now();
      for (const name of names) {
        listen(name, () => {
          if (name === "SIGINT" && performance.now() - firstAt >= 1000) {
            logger.error("second SIGINT: exiting without finishing clean-up");
            Deno.exit(1);
          }
          logger.info("received {signal} again; still stopping", {
            signal: name,
          });
        });
      }
    },
    dispose() {
      for (const [name, handler] of listeners) {
        Deno.removeSignalListener(name, handler);
      }
    },
  };
}

/** The stage profile `GUEST_AGENT_STAGE_PROFILE` asks for, and its file. */
function stageProfiling(
  logger: Logger,
): { profile: StageProfile; path: string } | undefined {
  const path = Deno.env.get("GUEST_AGENT_STAGE_PROFILE");
  if (!path) return undefined;
  logger.info("stage profiling on: traces go to {path} at stop", { path });
  return { profile: new StageProfile(), path };
}

/**
 * Runs the agent with the given arguments and returns the exit code: 0 after
 * a clean stop, help or version; 1 when the agent failed; 2 for a usage error.
 *
 * @param argv The arguments after the program name.
 * @returns The exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  if (CONTROL_COMMANDS.includes(argv[0] ?? "")) {
    const output = await runControlCommand(argv);
    print(output);
    return output.code;
  }
  const parsed = parseCommandLine(argv, {
    DOCKER_HOST: Deno.env.get("DOCKER_HOST"),
  });
  if (parsed.kind === "exit") {
    print(parsed);
    return parsed.code;
  }
  const { options } = parsed;
  setupLogging({ debug: options.debug, json: options.logFormat === "json" });
  const logger = getLogger(["guest-agent"]);
  const signals = listenForStop();
  try {
    const tracefs = describeTracefsOutcome(
      await mountTracefs(options.procnet && options.procnetEvents),
    );
    if (tracefs) logger[tracefs.level]("{message}", tracefs);
    const profiling = stageProfiling(logger);
    const agent = await startAgent(
      options,
      profiling ? { stageProfile: profiling.profile } : {},
    );
    logger.info("received {signal}", { signal: await signals.first });
    signals.whileStopping(logger);
    await agent.stop();
    if (profiling) {
      await Deno.writeTextFile(
        profiling.path,
        JSON.stringify({ traces: profiling.profile.traces() }),
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof AgentStartError) {
      logger.error("{message}", { message: error.message });
      return 2;
    }
    logger.fatal("guest-agent failed: {error}", {
      error: error instanceof Error
        ? error.stack ?? error.message
        : String(error),
    });
    return 1;
  } finally {
    signals.dispose();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
