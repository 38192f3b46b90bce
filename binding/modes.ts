/**
 * The names every layer shares: forwarding modes, and what a source
 * observes. Which forwarders a mode makes and which bindings each takes is
 * said by the forwarders' descriptors (forwarding/registry.ts); the agent
 * joins them to the sources' observations in one place (agent/routes.ts).
 *
 * @module
 */

/**
 * How the agent forwards, decided from the flags (see README, "Modes").
 *
 * @example Usage
 * ```ts
 * import { type AgentMode, parseCommandLine } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const parsed = parseCommandLine(["-docker", "-privilegedService"]);
 * assert(parsed.kind === "run");
 * const mode: AgentMode = parsed.options.mode;
 * assert.equal(mode, "privileged");
 * ```
 */
export type AgentMode =
  /** No mode flag: run the sources that can work here, log the table. */
  | "auto"
  /** -privilegedService: PortMapping JSON to the privileged service. */
  | "privileged"
  /** -docker or -containerd without the privileged service: host-switch API. */
  | "host-switch"
  /** Neither: listeners that make WSL relay the ports. */
  | "listeners";

/**
 * What a source observes, which decides where its bindings may go:
 * - `engine-ports`: a container engine's published ports (the engine, or its
 *   proxy, serves them in the VM);
 * - `dnat-rules`: DNAT rules, which nothing in the VM may serve (CNI portmap,
 *   kube-proxy);
 * - `vm-sockets`: the VM's own listening sockets;
 * - `api-services`: services an API publishes (Kubernetes NodePort and
 *   LoadBalancer);
 * - `agent-own`: what the agent holds itself (the Kubernetes API port).
 *
 * @example Usage
 * ```ts
 * import { type Observation, SOURCES } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const docker = SOURCES.find((source) => source.name === "docker")!;
 * const observes: Observation = docker.observes;
 * assert.equal(observes, "engine-ports");
 * ```
 */
export type Observation =
  | "engine-ports"
  | "dnat-rules"
  | "vm-sockets"
  | "api-services"
  | "agent-own";
