/**
 * The small state file of the host-switch forwarder: which mappings this
 * agent exposed, so a later run can remove the stale ones.
 *
 * @module
 */
import {
  type Binding,
  bindingKey,
  makeBinding,
} from "../../binding/binding.ts";
import type { HostSwitchMapping } from "./host_switch_api.ts";

/** One mapping this agent exposed, for one binding. */
export interface ExposedRecord {
  /** The binding. */
  readonly binding: Binding;
  /** The mapping exposed for it. */
  readonly mapping: HostSwitchMapping;
}

const FORMAT = 1;

/**
 * Reads the state file; a missing file is an empty state, a damaged one is
 * reported through `onDamage` and treated as empty.
 */
export async function loadExposedState(
  path: string,
  onDamage: (reason: string) => void,
): Promise<ExposedRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  try {
    const data = JSON.parse(text);
    if (data?.format !== FORMAT || !Array.isArray(data.exposed)) {
      throw new TypeError(
        `Cannot read the exposed state: expected {"format":${FORMAT},"exposed":[…]}`,
      );
    }
    return data.exposed.map((raw: Record<string, Record<string, unknown>>) => {
      const b = raw.binding ?? {};
      const m = raw.mapping ?? {};
      if (
        typeof m.local !== "string" || typeof m.remote !== "string" ||
        typeof m.protocol !== "string"
      ) {
        throw new TypeError(
          "Cannot read the exposed state: a record lacks its mapping",
        );
      }
      return {
        binding: makeBinding(
          String(b.protocol),
          String(b.hostIp),
          Number(b.hostPort),
        ),
        mapping: { local: m.local, remote: m.remote, protocol: m.protocol },
      };
    });
  } catch (error) {
    onDamage(`${path}: ${(error as Error).message}`);
    return [];
  }
}

/** Writes the state file atomically (temporary file, then rename). */
export async function saveExposedState(
  path: string,
  records: Iterable<ExposedRecord>,
): Promise<void> {
  const sorted = [...records].sort((a, b) =>
    bindingKey(a.binding).localeCompare(bindingKey(b.binding))
  );
  const directory = path.slice(0, path.lastIndexOf("/")) || "/";
  await Deno.mkdir(directory, { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(
    temporary,
    `${JSON.stringify({ format: FORMAT, exposed: sorted }, null, 2)}\n`,
  );
  await Deno.rename(temporary, path);
}
