/**
 * The one error that stops the agent from starting with the options it was
 * given (no source can run, a forwarder cannot work here): the CLI prints
 * its message and exits 2.
 *
 * @module
 */

/**
 * The agent cannot start with these options; the CLI exits 2.
 *
 * @example Usage
 * ```ts ignore
 * import { AgentStartError, DEFAULT_OPTIONS, startAgent } from "@guest-agent/agent";
 *
 * try {
 *   await startAgent({ ...DEFAULT_OPTIONS, mode: "privileged", vtunnelAddr: "vsock://2:3040" });
 * } catch (error) {
 *   if (!(error instanceof AgentStartError)) throw error;
 *   console.error(error.message); // what to change, then exit 2
 * }
 * ```
 */
export class AgentStartError extends Error {
  /** Creates the error; the message is what the user reads. */
  constructor(message: string) {
    super(message);
    this.name = "AgentStartError";
  }
}
