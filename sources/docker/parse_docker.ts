/**
 * Parsing of Docker Engine API replies (docs/protocols.md, "Docker Engine API"): event lines and
 * container inspect objects. Pure functions; bad input throws a SyntaxError
 * or TypeError that names what is wrong.
 *
 * @module
 */
import { quotedPreview } from "../../support/preview.ts";
import { makeBinding, type PortEntry } from "../../binding/binding.ts";
import { isIpv4, isIpv6 } from "../../binding/ip.ts";

/**
 * The container events the source acts on, in both vocabularies: dockerd's
 * (`die`, `destroy`) and Podman's (`died`, `remove`). Podman 4.3 matches an
 * `/events` filter against its own names only and reports removal as
 * `remove` in every version, so the filter lists both.
 */
export type ContainerAction =
  | "create"
  | "start"
  | "die"
  | "died"
  | "stop"
  | "destroy"
  | "remove";

/**
 * The events subscribed to: `create` only teaches the source a container's
 * configuration, `start` publishes its ports, every other action removes
 * them.
 */
export const CONTAINER_ACTIONS: readonly ContainerAction[] = [
  "create",
  "start",
  "die",
  "died",
  "stop",
  "destroy",
  "remove",
];

/** One container event. */
export interface ContainerEvent {
  /** What happened. */
  readonly action: ContainerAction;
  /** The container id (`Actor.ID`). */
  readonly id: string;
  /** The container name, when the event carries it. */
  readonly name?: string;
}

/** What one container publishes, from its inspect object. */
export interface InspectedContainer {
  /** The container id. */
  readonly id: string;
  /** Its name without the leading slash. */
  readonly name: string;
  /** Whether it is running. */
  readonly running: boolean;
  /** One entry per published host binding. */
  readonly entries: PortEntry[];
  /** Port specs skipped, each with the reason (unknown protocol, bad port). */
  readonly skipped: string[];
  /**
   * The container whose network it joined (`--network container:X`, a pod's
   * member): its ports are that container's, so it has no entries.
   */
  readonly sharesNetworkOf?: string;
  /**
   * The entries its create-time configuration makes certain before it runs
   * (see {@linkcode certainEntries}): what the source may publish at the
   * container's next `start` before the engine confirms it.
   */
  readonly certain: PortEntry[];
}

const ID = /^[0-9a-f]{12,64}$/;

/**
 * Parses one line of `/events`. Returns undefined for events the source
 * ignores (other types or actions).
 *
 * @param line One JSON line.
 * @throws {SyntaxError} When the line is not JSON, naming its first bytes.
 * @throws {TypeError} When a container event lacks a usable `Actor.ID`.
 */
export function parseDockerEvent(line: string): ContainerEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new SyntaxError(
      `Cannot parse Docker event: not JSON: ${quotedPreview(line, 120)}`,
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TypeError(
      `Cannot use Docker event: not an object: ${quotedPreview(line, 120)}`,
    );
  }
  const event = raw as Record<string, unknown>;
  if (event.Type !== "container") return undefined;
  const action = event.Action;
  if (!CONTAINER_ACTIONS.includes(action as ContainerAction)) return undefined;
  const actor = event.Actor as Record<string, unknown> | undefined;
  const id = actor?.ID;
  if (typeof id !== "string" || !ID.test(id)) {
    throw new TypeError(
      `Cannot use Docker ${String(action)} event: no valid Actor.ID: ${
        quotedPreview(line, 120)
      }`,
    );
  }
  const attributes = actor?.Attributes as Record<string, unknown> | undefined;
  const name = attributes?.name;
  return typeof name === "string" && name !== ""
    ? { action: action as ContainerAction, id, name }
    : { action: action as ContainerAction, id };
}

function networkIps(networks: unknown): string[] {
  if (typeof networks !== "object" || networks === null) return [];
  const ips = new Set<string>();
  for (const network of Object.values(networks as Record<string, unknown>)) {
    if (typeof network !== "object" || network === null) continue;
    const { IPAddress, GlobalIPv6Address } = network as Record<string, unknown>;
    if (typeof IPAddress === "string" && isIpv4(IPAddress)) ips.add(IPAddress);
    if (typeof GlobalIPv6Address === "string" && isIpv6(GlobalIPv6Address)) {
      ips.add(GlobalIPv6Address);
    }
  }
  return [...ips];
}

/**
 * The entries of NetworkSettings.Ports (`"80/tcp": [{HostIp, HostPort}]`),
 * with a reason for each key or binding that cannot be used.
 */
function publishedEntries(
  ports: Record<string, unknown> | null | undefined,
  owner: { ownerId: string; name: string; containerIps: string[] },
): { entries: PortEntry[]; skipped: string[] } {
  const entries: PortEntry[] = [];
  const skipped: string[] = [];
  for (const [spec, list] of Object.entries(ports ?? {})) {
    if (list === null || (Array.isArray(list) && list.length === 0)) continue;
    const match = /^(\d{1,5})\/([a-z]+)$/.exec(spec);
    if (!match || !Array.isArray(list)) {
      skipped.push(
        `${spec.slice(0, 40)}: not "<port>/<protocol>" with a list of bindings`,
      );
      continue;
    }
    const containerPort = Number(match[1]);
    for (const item of list) {
      try {
        const { HostIp, HostPort } = (item ?? {}) as Record<string, unknown>;
        const hostPort =
          typeof HostPort === "string" && /^\d{1,5}$/.test(HostPort)
            ? Number(HostPort)
            : NaN;
        if (containerPort < 1 || containerPort > 65535) {
          throw new RangeError(
            `Cannot read container port ${containerPort}: out of range`,
          );
        }
        entries.push({
          ownerId: owner.ownerId,
          binding: makeBinding(
            match[2]!,
            typeof HostIp === "string" ? HostIp : "",
            hostPort,
          ),
          containerPort,
          containerIps: owner.containerIps,
          name: owner.name,
        });
      } catch (error) {
        skipped.push(`${spec}: ${(error as Error).message}`);
      }
    }
  }
  return { entries, skipped };
}

/**
 * Reads a container's published ports from its inspect object:
 * `NetworkSettings.Ports` (`{"80/tcp":[{"HostIp","HostPort"}],"443/tcp":null}`),
 * its network addresses and name. Entries with null or empty bindings are
 * skipped; a bad port spec is skipped and reported in `skipped`. A container
 * that joined another's network (`HostConfig.NetworkMode` "container:<id>",
 * as a Podman pod's members do) has no entries: Podman lists the infra
 * container's ports on every member, and the infra container owns them.
 *
 * @param raw The parsed JSON of `GET /containers/{id}/json`.
 * @throws {TypeError} When the object is not a container inspect reply.
 */
export function parseDockerInspect(raw: unknown): InspectedContainer {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TypeError("Cannot use Docker inspect reply: not an object");
  }
  const container = raw as Record<string, unknown>;
  const id = container.Id;
  if (typeof id !== "string" || !ID.test(id)) {
    throw new TypeError("Cannot use Docker inspect reply: no valid Id");
  }
  const name = typeof container.Name === "string"
    ? container.Name.replace(/^\//, "")
    : id.slice(0, 12);
  const state = container.State as Record<string, unknown> | undefined;
  const settings = container.NetworkSettings;
  if (typeof settings !== "object" || settings === null) {
    throw new TypeError(
      `Cannot use Docker inspect reply for ${name}: no NetworkSettings`,
    );
  }
  const { Ports: ports, Networks: networks } = settings as Record<
    string,
    unknown
  >;
  if (
    ports !== null && ports !== undefined &&
    (typeof ports !== "object" || Array.isArray(ports))
  ) {
    throw new TypeError(
      `Cannot use Docker inspect reply for ${name}: NetworkSettings.Ports is not an object`,
    );
  }
  const hostConfig = container.HostConfig as
    | Record<string, unknown>
    | undefined;
  const networkMode = hostConfig?.NetworkMode;
  const running = state?.Running === true;
  if (typeof networkMode === "string" && networkMode.startsWith("container:")) {
    const sharesNetworkOf = networkMode.slice("container:".length, 140);
    return {
      id,
      name,
      running,
      entries: [],
      skipped: [],
      sharesNetworkOf,
      certain: [],
    };
  }
  const { entries, skipped } = publishedEntries(
    ports as Record<string, unknown> | null | undefined,
    { ownerId: id, name, containerIps: networkIps(networks) },
  );
  return {
    id,
    name,
    running,
    entries,
    skipped,
    certain: certainEntries(id, name, hostConfig),
  };
}

/**
 * The bindings a container's create-time configuration makes certain
 * (docs/protocols.md, "Docker Engine API"): each `HostConfig.PortBindings`
 * item with an explicit host port (digits only: an empty or 0 port is
 * chosen by the engine at start, a range `a-b` too), on its host IP as
 * given (empty meaning all IPv4 addresses). A container on the host network
 * or on another container's (a pod member) publishes nothing. Anything
 * malformed makes nothing certain: the engine's answer at start decides.
 *
 * @param id The container id (the entries' owner).
 * @param name The container name.
 * @param hostConfig `HostConfig` of its inspect object.
 * @returns The certain entries (no container addresses: those come at start).
 */
export function certainEntries(
  id: string,
  name: string,
  hostConfig: Record<string, unknown> | undefined,
): PortEntry[] {
  const mode = hostConfig?.NetworkMode;
  if (
    typeof mode === "string" &&
    (mode === "host" || mode === "none" || mode.startsWith("container:"))
  ) {
    return [];
  }
  const bindings = hostConfig?.PortBindings;
  if (
    typeof bindings !== "object" || bindings === null || Array.isArray(bindings)
  ) {
    return [];
  }
  const entries: PortEntry[] = [];
  for (const [spec, list] of Object.entries(bindings)) {
    const match = /^(\d{1,5})\/(tcp|udp)$/.exec(spec);
    if (!match || !Array.isArray(list)) continue;
    const containerPort = Number(match[1]);
    if (containerPort < 1 || containerPort > 65535) continue;
    for (const item of list) {
      const { HostIp, HostPort } = (item ?? {}) as Record<string, unknown>;
      if (typeof HostPort !== "string" || !/^\d{1,5}$/.test(HostPort)) continue;
      if (HostIp !== undefined && typeof HostIp !== "string") continue;
      try {
        entries.push({
          ownerId: id,
          binding: makeBinding(match[2]!, HostIp ?? "", Number(HostPort)),
          containerPort,
          name,
        });
      } catch {
        // Port 0 or out of range, a bad address: the engine decides.
      }
    }
  }
  return entries;
}

/**
 * The ids in a `GET /containers/json` reply.
 *
 * @throws {TypeError} When the reply is not a list of containers.
 */
export function parseContainerList(raw: unknown): string[] {
  if (!Array.isArray(raw)) {
    throw new TypeError("Cannot use Docker container list: not an array");
  }
  return raw.flatMap((item) =>
    typeof item?.Id === "string" && ID.test(item.Id) ? [item.Id as string] : []
  );
}
