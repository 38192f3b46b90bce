/**
 * guest-agent: forwards the ports that containers and Kubernetes services
 * publish inside a container desktop's VM to the host.
 *
 * This module is the library API: the values (bindings, entries), the pure
 * tracker, the forwarder interface and delivery queue, the worker message
 * protocol, and {@linkcode startAgent} to run the whole agent from options.
 * Importing it starts nothing.
 *
 * @example
 * ```ts ignore
 * import { DEFAULT_OPTIONS, startAgent } from "@guest-agent/agent";
 * const agent = await startAgent({ ...DEFAULT_OPTIONS, mode: "auto" });
 * // later
 * await agent.stop();
 * ```
 *
 * @module
 */
export {
  type Binding,
  bindingKey,
  makeBinding,
  type PortEntry,
  type Protocol,
} from "./binding/binding.ts";
export { normaliseHostIp } from "./binding/ip.ts";
export {
  type Holder,
  PortTracker,
  type TrackedBinding,
  type TrackerDiff,
  type TrackerUpdate,
} from "./tracker/port_tracker.ts";
export type { Forwarder } from "./forwarding/forwarder.ts";
export {
  DeliveryQueue,
  type DeliveryQueueOptions,
  type DeliveryStatus,
  type LaneStatus,
} from "./forwarding/delivery_queue.ts";
export {
  LogForwarder,
  type LogForwarderOptions,
} from "./forwarding/log_forwarder.ts";
export type { AgentMode, Observation } from "./binding/modes.ts";
export type {
  ForwarderContext,
  ForwarderDescriptor,
  ForwarderSettings,
  Sighting,
} from "./forwarding/descriptor.ts";
export { ForwarderSetupError } from "./forwarding/descriptor.ts";
export {
  type AnyForwarderDescriptor,
  type ForwarderOptions,
  type ForwarderRegistry,
  FORWARDERS,
} from "./forwarding/registry.ts";
export { type Route, routeBinding, routeFor } from "./agent/routes.ts";
export {
  type ControlMessage,
  MESSAGE_VERSION,
  parseSourceMessage,
  type PortMessage,
  type SourceMessage,
  type SourceState,
} from "./sources/messages.ts";
export type {
  LogProperties,
  LogValue,
  SourceLogLevel,
} from "./sources/source_log.ts";
export {
  type AgentOptions,
  type CoreOptions,
  DEFAULT_OPTIONS,
} from "./agent/options.ts";
export { type CommandLineResult, parseCommandLine } from "./cli/cli.ts";
export {
  type AgentDependencies,
  AgentStartError,
  type RunningAgent,
  startAgent,
  type StopReport,
} from "./agent/run_agent.ts";
export { VERSION } from "./agent/version.ts";
export {
  type Clock,
  FakeClock,
  systemClock,
  type TimerId,
  wallClockMs,
} from "./support/clock.ts";
export { backoffDelay, type BackoffOptions } from "./support/backoff.ts";
export type { OpenFilesLimit } from "./support/open_files.ts";
export {
  StageProfile,
  type StageStamps,
  type StageTrace,
} from "./support/stage_profile.ts";
export {
  type MachineProbe,
  type SourcePlan,
  systemProbe,
} from "./agent/plan_sources.ts";
export {
  type SourceStatus,
  SourceSupervisor,
  type SupervisedSource,
  type SupervisorOptions,
} from "./sources/supervisor.ts";
export { type SourceName, SOURCES } from "./sources/registry.ts";
export type {
  CompanionContext,
  Detection,
  ResolveContext,
  SourceDescriptor,
  SourceWorker,
  WorkerFacts,
} from "./sources/descriptor.ts";
export type {
  AnySourceDescriptor,
  Intersection,
  OptionsOf,
  SourceOptions,
  SourceRegistry,
} from "./sources/registry.ts";
export type {
  AnyOptionSpec,
  OptionSpec,
  OptionSpecBase,
  OptionSpecFor,
} from "./support/option_table.ts";
