/**
 * The forwarders of a mode, made from their descriptors
 * (forwarding/registry.ts): the log forwarder under each one's name in auto
 * mode and dry runs, else each one itself.
 *
 * @module
 */
import type { Forwarder } from "../forwarding/forwarder.ts";
import { LogForwarder } from "../forwarding/log_forwarder.ts";
import { ForwarderSetupError } from "../forwarding/descriptor.ts";
import { type ForwarderRegistry, FORWARDERS } from "../forwarding/registry.ts";
import type { OpenFilesLimit } from "../support/open_files.ts";
import type { AgentOptions } from "./options.ts";
import { type SourceRegistry, SOURCES } from "../sources/registry.ts";
import { isEngine, readsVmSockets } from "../sources/descriptor.ts";
import { AgentStartError } from "./start_error.ts";

/**
 * Creates the forwarders of `options.mode`, in registry order; one its
 * options turn off is not made (the router skips routes to none).
 *
 * @param options The agent's options.
 * @param libcPath libc, for vsock and the vtunnel's socket calls.
 * @param limit The open-files limit: the listeners keep under it.
 * @param registry The sources (the DNAT rules follow its engines).
 * @param forwarders The forwarders. @default FORWARDERS
 * @throws {AgentStartError} When a forwarder cannot work with the options
 *   (vsock asked for and no libc).
 */
export function createForwarders(
  options: AgentOptions,
  libcPath: string | undefined,
  limit: OpenFilesLimit | undefined,
  registry: SourceRegistry = SOURCES,
  forwarders: ForwarderRegistry = FORWARDERS,
): Forwarder[] {
  const made = forwarders.filter((forwarder) =>
    forwarder.modes.includes(options.mode) && !forwarder.off?.(options)
  );
  if (options.mode === "auto" || options.dryRun) {
    return made.map((forwarder) => new LogForwarder(forwarder.name));
  }
  const context = {
    options,
    settings: {
      tapIp: options.tapInterfaceIp,
      stateDir: options.stateDir,
      settleMs: options.listenerSettleMs,
    },
    libcPath,
    limit,
    engines: new Set(registry.filter(isEngine).map((s) => s.name)),
    vmSocketSources: new Set(
      registry.filter(readsVmSockets).map((s) => s.name),
    ),
  };
  return made.map((forwarder) => {
    try {
      return forwarder.create(context);
    } catch (error) {
      if (error instanceof ForwarderSetupError) {
        throw new AgentStartError(error.message);
      }
      throw error;
    }
  });
}
