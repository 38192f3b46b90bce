/**
 * The `ports` and `status` commands: ask the running agent over its control
 * socket and print a table (or JSON with --json).
 *
 *   guest-agent ports  [--json] [--control-socket PATH]
 *   guest-agent status [--json] [--control-socket PATH]
 *
 * @module
 */
import { ControlError, queryControl } from "./control_client.ts";
import {
  type AgentStatus,
  formatPorts,
  formatStatus,
  type PortRow,
} from "./control_view.ts";
import { DEFAULT_OPTIONS } from "./options.ts";

/** The command names. */
export const CONTROL_COMMANDS: readonly string[] = ["ports", "status"];

/** What a command printed and its exit code. */
export interface CommandOutput {
  /** Exit code: 0 done, 1 no agent or refused, 2 usage. */
  readonly code: number;
  /** Standard output. */
  readonly stdout: string;
  /** Standard error. */
  readonly stderr: string;
}

const USAGE = `usage: guest-agent ports|status [--json] [--control-socket PATH]
  ports   every binding: protocol, address, owners, how each forwarder stands
  status  version, mode, sources, forwarders, uptime
`;

/**
 * Runs `ports` or `status` with its arguments.
 *
 * @param argv The command name and its arguments.
 * @param now Wall-clock ms, for ages. @default Date.now()
 */
export async function runControlCommand(
  argv: readonly string[],
  now: number = Date.now(),
): Promise<CommandOutput> {
  const [command, ...rest] = argv;
  let json = false;
  let socket = DEFAULT_OPTIONS.controlSocket;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === "--json") json = true;
    else if (arg === "--control-socket" && rest[i + 1]) socket = rest[++i]!;
    else if (arg.startsWith("--control-socket=")) {
      socket = arg.slice("--control-socket=".length);
    } else if (arg === "--help" || arg === "-h") {
      return { code: 0, stdout: USAGE, stderr: "" };
    } else {
      return {
        code: 2,
        stdout: "",
        stderr: `guest-agent ${command}: unknown argument ${
          JSON.stringify(arg)
        }\n${USAGE}`,
      };
    }
  }
  if (!CONTROL_COMMANDS.includes(command ?? "")) {
    return { code: 2, stdout: "", stderr: USAGE };
  }
  try {
    if (command === "ports") {
      const { ports } = await queryControl(socket, "/v1/ports") as {
        ports: PortRow[];
      };
      return {
        code: 0,
        stdout: json
          ? `${JSON.stringify(ports, null, 2)}\n`
          : formatPorts(ports, now),
        stderr: "",
      };
    }
    const status = await queryControl(socket, "/v1/status") as AgentStatus;
    return {
      code: 0,
      stdout: json
        ? `${JSON.stringify(status, null, 2)}\n`
        : formatStatus(status, now),
      stderr: "",
    };
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    return {
      code: 1,
      stdout: "",
      stderr: `guest-agent ${command}: ${error.message}\n`,
    };
  }
}
