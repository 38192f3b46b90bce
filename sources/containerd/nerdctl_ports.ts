/**
 * Published ports of a nerdctl container (docs/protocols.md, "containerd"):
 * the `nerdctl/ports` label, or nerdctl's `network-config.json` in the
 * state folder the `nerdctl/state-dir` label names. Pure functions; bad
 * input throws a SyntaxError or TypeError naming what is wrong, and a bad
 * mapping is skipped with the rest kept.
 *
 * @module
 */
import {
  bindingKey,
  makeBinding,
  type PortEntry,
} from "../../binding/binding.ts";
import { quotedPreview } from "../../support/preview.ts";
import type { ContainerRecord } from "./parse_event.ts";

/** The label nerdctl (before 2.1.3) keeps the published ports in. */
export const PORTS_LABEL = "nerdctl/ports";
/** The label naming nerdctl's per-container state directory. */
export const STATE_DIR_LABEL = "nerdctl/state-dir";
/** The label holding the nerdctl container name. */
export const NAME_LABEL = "nerdctl/name";
/** The file in the state directory that nerdctl ≥ 2.1.3 keeps ports in. */
export const NETWORK_CONFIG_FILE = "network-config.json";
/** Largest label or network-config.json accepted, in bytes of text. */
export const MAX_PORTS_TEXT = 1 << 20;
const MAX_MAPPINGS = 65_536;

/** Who owns a container's entries in the tracker. */
export interface ContainerOwner {
  /** `<namespace>/<id>`: ids are unique only within a namespace. */
  readonly ownerId: string;
  /** The container's namespace. */
  readonly namespace: string;
  /** The container id. */
  readonly id: string;
  /** nerdctl's name for it, else its id. */
  readonly name: string;
}

/** The owner of `container` in `namespace`. */
export function containerOwner(
  namespace: string,
  container: ContainerRecord,
): ContainerOwner {
  const name = container.labels[NAME_LABEL];
  return {
    ownerId: `${namespace}/${container.id}`,
    namespace,
    id: container.id,
    name: typeof name === "string" && name !== "" && name.length <= 128
      ? name
      : container.id,
  };
}

/** Where a container's published ports are to be read from. */
export type PortsLocation =
  | {
    /** In the `nerdctl/ports` label. */
    readonly kind: "label";
    /** The label's text. */
    readonly text: string;
  }
  | {
    /** In `<dir>/network-config.json`. */
    readonly kind: "state-dir";
    /** The state directory. */
    readonly dir: string;
  }
  | {
    /** The container publishes nothing we know of. */
    readonly kind: "none";
  };

/** Where to read the ports of a container with these labels. */
export function portsLocation(
  labels: Readonly<Record<string, string>>,
): PortsLocation {
  const text = labels[PORTS_LABEL];
  if (typeof text === "string") return { kind: "label", text };
  const dir = labels[STATE_DIR_LABEL];
  if (typeof dir === "string" && dir !== "") return { kind: "state-dir", dir };
  return { kind: "none" };
}

/** A container's entries, and the mappings skipped with their reasons. */
export interface ContainerPorts {
  /** One entry per distinct published binding. */
  readonly entries: PortEntry[];
  /** Mappings skipped, each with the reason. */
  readonly skipped: string[];
}

function mappingEntry(item: unknown, owner: ContainerOwner): PortEntry {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw new TypeError(
      `Cannot read port mapping ${quotedPreview(item)}: not an object`,
    );
  }
  const { HostPort, ContainerPort, Protocol, HostIP } = item as Record<
    string,
    unknown
  >;
  if (typeof HostPort !== "number") {
    throw new TypeError(
      `Cannot read HostPort ${quotedPreview(HostPort)}: not a number`,
    );
  }
  if (typeof Protocol !== "string") {
    throw new TypeError(
      `Cannot read Protocol ${quotedPreview(Protocol)}: not a string`,
    );
  }
  if (HostIP !== undefined && HostIP !== null && typeof HostIP !== "string") {
    throw new TypeError(
      `Cannot read HostIP ${quotedPreview(HostIP)}: not a string`,
    );
  }
  const binding = makeBinding(Protocol, HostIP ?? "", HostPort);
  const entry: PortEntry = {
    ownerId: owner.ownerId,
    binding,
    name: owner.name,
    namespace: owner.namespace,
  };
  return Number.isInteger(ContainerPort) && (ContainerPort as number) >= 1 &&
      (ContainerPort as number) <= 65535
    ? { ...entry, containerPort: ContainerPort as number }
    : entry;
}

/**
 * Turns a list of nerdctl port mappings
 * (`{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":"0.0.0.0"}`)
 * into entries. A bad mapping (wrong types, port out of range, a protocol
 * other than tcp/udp, a bad address) is skipped and reported; the rest stay.
 *
 * @param mappings The parsed list.
 * @param owner Whose entries they are.
 * @throws {TypeError} When `mappings` is not a list or is too long.
 */
export function parsePortMappings(
  mappings: unknown,
  owner: ContainerOwner,
): ContainerPorts {
  if (!Array.isArray(mappings)) {
    throw new TypeError(
      `Cannot read port mappings ${quotedPreview(mappings)}: not a list`,
    );
  }
  if (mappings.length > MAX_MAPPINGS) {
    throw new TypeError(
      `Cannot read ${mappings.length} port mappings: more than the ${MAX_MAPPINGS} accepted`,
    );
  }
  const entries = new Map<string, PortEntry>();
  const skipped: string[] = [];
  mappings.forEach((item, index) => {
    try {
      const entry = mappingEntry(item, owner);
      const key = bindingKey(entry.binding);
      if (!entries.has(key)) entries.set(key, entry);
    } catch (error) {
      skipped.push(`mapping ${index}: ${(error as Error).message}`);
    }
  });
  return { entries: [...entries.values()], skipped };
}

function parseJsonText(text: string, what: string): unknown {
  if (text.length > MAX_PORTS_TEXT) {
    throw new TypeError(
      `Cannot read ${what}: it is ${text.length} characters, more than the ${MAX_PORTS_TEXT} accepted`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError(
      `Cannot read ${what}: not JSON: ${quotedPreview(text)}`,
    );
  }
}

/**
 * The ports in a `nerdctl/ports` label.
 *
 * @throws {SyntaxError} When the label is not JSON.
 * @throws {TypeError} When it is not a list of mappings, or too large.
 */
export function parseNerdctlPortsLabel(
  text: string,
  owner: ContainerOwner,
): ContainerPorts {
  return parsePortMappings(
    parseJsonText(text, `label ${PORTS_LABEL}`),
    owner,
  );
}

/**
 * The ports in nerdctl's `network-config.json` (`{"portMappings":[…]}`); a
 * file without `portMappings` publishes nothing.
 *
 * @throws {SyntaxError} When the file is not JSON.
 * @throws {TypeError} When it is not an object or `portMappings` is not a list.
 */
export function parseNetworkConfig(
  text: string,
  owner: ContainerOwner,
): ContainerPorts {
  const config = parseJsonText(text, NETWORK_CONFIG_FILE);
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TypeError(`Cannot read ${NETWORK_CONFIG_FILE}: not an object`);
  }
  const mappings = (config as Record<string, unknown>).portMappings;
  if (mappings === undefined || mappings === null) {
    return { entries: [], skipped: [] };
  }
  return parsePortMappings(mappings, owner);
}
