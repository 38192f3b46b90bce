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
import type { AgentStatus, PortRow } from "../control/control_view.ts";
import { formatPorts, formatStatus } from "./control_format.ts";
import { DEFAULT_OPTIONS } from "../agent/options.ts";
import { readArguments } from "./read_arguments.ts";
import {
  type AnyOptionSpec,
  textValue,
  UsageError,
} from "../support/option_table.ts";

/** The flags of `ports` and `status`. */
const COMMAND_OPTIONS: ReadonlyMap<string, AnyOptionSpec> = new Map(
  [
    {
      key: "json",
      name: "json",
      kind: "boolean",
      help: "print JSON",
    },
    {
      key: "controlSocket",
      name: "control-socket",
      kind: "value",
      help: "the agent's control socket",
      parse: textValue,
    },
  ].map((spec) => [spec.name, spec as AnyOptionSpec]),
);

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
  let given;
  try {
    given = readArguments(rest, COMMAND_OPTIONS);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return {
      code: 2,
      stdout: "",
      stderr: `guest-agent ${command}: ${error.message}\n${USAGE}`,
    };
  }
  if (given === "help") return { code: 0, stdout: USAGE, stderr: "" };
  if (given === "version") {
    return { code: 2, stdout: "", stderr: USAGE };
  }
  const json = given.get("json") === true;
  const socket = given.has("control-socket")
    ? String(given.get("control-socket"))
    : DEFAULT_OPTIONS.controlSocket;
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
