/**
 * Which sources run: in auto mode those that can work on this machine; in
 * the other modes those the flags enable. Each decision carries its reason.
 *
 * @module
 */
import { type SourceRegistry, SOURCES } from "../sources/registry.ts";
import { type MachineProbe, systemProbe } from "../sources/probe.ts";
import type { AgentOptions } from "./options.ts";

export { type MachineProbe, systemProbe } from "../sources/probe.ts";

/**
 * The decision for one source.
 *
 * @example Usage
 * ```ts
 * import type { SourcePlan } from "@guest-agent/agent";
 * import assert from "node:assert/strict";
 *
 * const plan: SourcePlan = { name: "docker", run: false, reason: "no Docker socket at /var/run/docker.sock" };
 * assert.equal(plan.run, false);
 * ```
 */
export interface SourcePlan {
  /** The source. */
  readonly name: string;
  /** Whether it runs. */
  readonly run: boolean;
  /** Why it runs or not, for the start-up log. */
  readonly reason: string;
}

/**
 * Whether `name` is switched on in `options`; a source the options do not
 * mention (a registry of a test's own) takes its descriptor's default.
 */
export function switchedOn(
  options: AgentOptions,
  name: string,
  fallback: boolean,
): boolean {
  const value = (options as unknown as Record<string, unknown>)[name];
  return typeof value === "boolean" ? value : fallback;
}

/**
 * Decides which sources run.
 *
 * @param options The agent's options (mode and source switches).
 * @param probe What detection looks at.
 * @param registry The sources. @default SOURCES
 * @returns One plan per source, in registry order.
 */
export async function planSources(
  options: AgentOptions,
  probe: MachineProbe = systemProbe,
  registry: SourceRegistry = SOURCES,
): Promise<SourcePlan[]> {
  const plans: SourcePlan[] = [];
  for (const source of registry) {
    const { name } = source;
    if (!switchedOn(options, name, source.defaults[name] === true)) {
      plans.push({ name, run: false, reason: "switched off" });
    } else if (options.mode !== "auto") {
      plans.push({ name, run: true, reason: "enabled by the flags" });
    } else {
      const found = await source.detect(options, probe);
      plans.push({ name, run: found.ok, reason: found.reason });
    }
  }
  return plans;
}
