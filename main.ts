/**
 * The guest-agent command: parses the flags, runs the agent until SIGTERM
 * or SIGINT, then removes every forwarded binding and exits.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
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
    if (output.stdout) Deno.stdout.writeSync(encoder.encode(output.stdout));
    if (output.stderr) Deno.stderr.writeSync(encoder.encode(output.stderr));
    return output.code;
  }
  const parsed = parseCommandLine(argv, {
    DOCKER_HOST: Deno.env.get("DOCKER_HOST"),
  });
  if (parsed.kind === "exit") {
    if (parsed.stdout) Deno.stdout.writeSync(encoder.encode(parsed.stdout));
    if (parsed.stderr) Deno.stderr.writeSync(encoder.encode(parsed.stderr));
    return parsed.code;
  }
  const { options } = parsed;
  setupLogging({ debug: options.debug, json: options.logFormat === "json" });
  const logger = getLogger(["guest-agent"]);

  let signalled!: (signal: Deno.Signal) => void;
  const stopSignal = new Promise<Deno.Signal>((resolve) => signalled = resolve);
  const handlers = (["SIGTERM", "SIGINT"] as const).map((signal) => {
    const handler = () => signalled(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  try {
    const tracefs = describeTracefsOutcome(
      await mountTracefs(options.procnet && options.procnetEvents),
    );
    if (tracefs) logger[tracefs.level]("{message}", tracefs);
    // A diagnostic for benchmarks (docs/benchmarks.md): where the time goes
    // between a source's event and the forwarder's call, written at stop.
    const profilePath = Deno.env.get("GUEST_AGENT_STAGE_PROFILE");
    const stageProfile = profilePath ? new StageProfile() : undefined;
    if (stageProfile) {
      logger.info("stage profiling on: traces go to {path} at stop", {
        path: profilePath,
      });
    }
    const agent = await startAgent(
      options,
      stageProfile ? { stageProfile } : {},
    );
    const signal = await stopSignal;
    logger.info("received {signal}", { signal });
    // Shutdown is bounded by --shutdown-timeout. Repeated signals are
    // common (a service manager signals the whole group, `deno task`
    // forwards): only a SIGINT a second or more later, a user pressing
    // Ctrl-C again, ends without clean-up.
    const firstAt = performance.now();
    for (const [name] of handlers) {
      Deno.addSignalListener(name, () => {
        if (name === "SIGINT" && performance.now() - firstAt >= 1000) {
          logger.error("second SIGINT: exiting without finishing clean-up");
          Deno.exit(1);
        }
        logger.info("received {signal} again; still stopping", {
          signal: name,
        });
      });
    }
    await agent.stop();
    if (stageProfile) {
      await Deno.writeTextFile(
        profilePath!,
        JSON.stringify({ traces: stageProfile.traces() }),
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
    for (const [name, handler] of handlers) {
      Deno.removeSignalListener(name, handler);
    }
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
