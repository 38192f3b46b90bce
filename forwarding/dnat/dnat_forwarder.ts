/**
 * The loopback DNAT forwarder (namespaced-network mode): adds and deletes
 * the any-destination rules of {@linkcode dnatRuleArgs} with iptables.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { TrackedBinding } from "../../tracker/port_tracker.ts";
import type { Forwarder } from "../forwarder.ts";
import {
  DEFAULT_ENGINE_SOURCES,
  DNAT_CHAIN,
  dnatRuleArgs,
  dnatTarget,
  JUMP_ARGS,
} from "./dnat_rules.ts";

/** Options of {@linkcode DnatForwarder}. */
export interface DnatForwarderOptions {
  /** The command that runs iptables (argument array, never a shell). @default ["iptables"] */
  readonly iptables?: readonly string[];
  /** The container engines' source names. @default DEFAULT_ENGINE_SOURCES */
  readonly engines?: ReadonlySet<string>;
}

/** iptables's "resource problem" exit: the xtables lock is held. */
const XTABLES_LOCK_HELD = 4;

/**
 * One rule per loopback binding in the agent's own chain, created on first
 * use; `close()` removes the jump and the chain (the Go agent never removed
 * its rules). Rules are checked with `-C` first, so add and remove are
 * idempotent. The chain is rebuilt from what is wanted now at start and
 * after any failed call (flushed, then filled by the queue), so no rule of
 * a crashed run outlives the binding it was made for.
 */
export class DnatForwarder implements Forwarder {
  /** "dnat". */
  readonly name = "dnat";
  /** iptables serialises on its lock anyway. */
  readonly concurrency = 1;
  #iptables: readonly string[];
  #engines: ReadonlySet<string>;
  #chainReady = false;
  #logger = getLogger(["guest-agent", "forwarder", "dnat"]);

  /**
   * Creates the forwarder.
   *
   * @param options The iptables command.
   */
  constructor(options: DnatForwarderOptions = {}) {
    this.#iptables = options.iptables ?? ["iptables"];
    this.#engines = options.engines ?? DEFAULT_ENGINE_SOURCES;
  }

  /**
   * Flushes the agent's chain (when it exists) and reports nothing applied:
   * the queue then adds every wanted rule again. A rule left by a run that
   * was killed would otherwise send a new container's port to the old
   * container's address.
   */
  async readApplied(): Promise<TrackedBinding[]> {
    if (await this.#check(["-t", "nat", "-S", DNAT_CHAIN])) {
      await this.#run(["-t", "nat", "-F", DNAT_CHAIN]);
      this.#logger.debug("flushed {chain}: refilled from the wanted rules", {
        chain: DNAT_CHAIN,
      });
    }
    return [];
  }

  /** Rules differ when the container's address or port does. */
  identity(binding: TrackedBinding): string {
    const target = dnatTarget(binding, this.#engines);
    return target
      ? `${binding.key}>${target.containerIp}:${target.containerPort}`
      : binding.key;
  }

  /** Adds the rule for a loopback binding. */
  async add(binding: TrackedBinding): Promise<void> {
    const target = dnatTarget(binding, this.#engines);
    if (target === undefined) return;
    await this.#ensureChain();
    const rule = dnatRuleArgs(target);
    if (await this.#check(["-t", "nat", "-C", DNAT_CHAIN, ...rule])) return;
    await this.#run(["-t", "nat", "-A", DNAT_CHAIN, ...rule]);
  }

  /** Deletes the rule of a loopback binding. */
  async remove(binding: TrackedBinding): Promise<void> {
    const target = dnatTarget(binding, this.#engines);
    if (target === undefined || !this.#chainReady) return;
    const rule = dnatRuleArgs(target);
    if (!await this.#check(["-t", "nat", "-C", DNAT_CHAIN, ...rule])) return;
    await this.#run(["-t", "nat", "-D", DNAT_CHAIN, ...rule]);
  }

  /** Removes the jump and the chain with whatever rules are left in it. */
  async close(): Promise<void> {
    if (!this.#chainReady) return;
    this.#chainReady = false;
    try {
      while (
        await this.#check(["-t", "nat", "-C", "PREROUTING", ...JUMP_ARGS])
      ) {
        await this.#run(["-t", "nat", "-D", "PREROUTING", ...JUMP_ARGS]);
      }
      await this.#run(["-t", "nat", "-F", DNAT_CHAIN]);
      await this.#run(["-t", "nat", "-X", DNAT_CHAIN]);
    } catch (error) {
      this.#logger.error("Cannot remove chain {chain}: {error}", {
        chain: DNAT_CHAIN,
        error: (error as Error).message,
      });
    }
  }

  async #ensureChain(): Promise<void> {
    if (this.#chainReady) return;
    if (!await this.#check(["-t", "nat", "-S", DNAT_CHAIN])) {
      await this.#run(["-t", "nat", "-N", DNAT_CHAIN]);
    }
    if (!await this.#check(["-t", "nat", "-C", "PREROUTING", ...JUMP_ARGS])) {
      await this.#run(["-t", "nat", "-A", "PREROUTING", ...JUMP_ARGS]);
    }
    this.#chainReady = true;
  }

  /** Runs a check; true for exit 0, false for exit 1 (no such rule or chain). */
  async #check(args: string[]): Promise<boolean> {
    const { code, stderr } = await this.#exec(args);
    if (code === 0) return true;
    if (code === 1) return false;
    throw new Error(
      `Cannot run ${
        [...this.#iptables, ...args].join(" ")
      }: it exited ${code}: ${stderr}`,
    );
  }

  async #run(args: string[]): Promise<void> {
    const { code, stderr } = await this.#exec(args);
    if (code !== 0) {
      throw new Error(
        `Cannot run ${
          [...this.#iptables, ...args].join(" ")
        }: it exited ${code}: ${stderr}`,
      );
    }
  }

  async #exec(args: string[]): Promise<{ code: number; stderr: string }> {
    const [command, ...prefix] = this.#iptables;
    for (let attempt = 0;; attempt++) {
      const output = await new Deno.Command(command!, {
        args: [...prefix, "-w", "5", ...args],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr).trim();
      if (output.code !== XTABLES_LOCK_HELD || attempt >= 3) {
        return { code: output.code, stderr };
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
    }
  }
}
