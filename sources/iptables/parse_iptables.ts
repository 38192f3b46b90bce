/**
 * Parsing of `iptables-save -t nat` / `ip6tables-save -t nat` output
 * (docs/protocols.md, "iptables rules"): the DNAT rules of Docker's `DOCKER` chain, of CNI
 * portmap's `CNI-DN-…` chains and of netavark's (Podman's) `NETAVARK-DN-…`
 * chains become port entries. Pure functions; other
 * rules are ignored, a malformed DNAT rule is skipped with a reason.
 *
 * @module
 */
import { makeBinding, type PortEntry } from "../../binding/binding.ts";
import { isIpv4, normaliseHostIp } from "../../binding/ip.ts";

/** Which table a listing came from. */
export type IpFamily = "ipv4" | "ipv6";

/** The entries of one NAT table, and the DNAT rules skipped with reasons. */
export interface NatScan {
  /** One entry per (rule, host port). */
  readonly entries: PortEntry[];
  /** `<rule>: <reason>` for each DNAT rule that could not be used. */
  readonly skipped: string[];
}

/** Longest rule line looked at; longer ones are skipped. */
export const MAX_RULE_LENGTH = 4096;
/** Most host ports one rule may publish (a `--dport` range). */
export const MAX_PORTS_PER_RULE = 1024;
const MAX_OWNER_LENGTH = 400;

/**
 * Splits a rule line into words as iptables-save quotes them: double
 * quotes, backslash escapes inside them.
 *
 * @throws {SyntaxError} When a quote is not closed.
 */
export function splitRuleWords(line: string): string[] {
  // Most rules have no quotes: split them the fast way.
  if (!line.includes('"') && !line.includes("\t")) {
    return line.split(" ").filter((word) => word !== "");
  }
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '"') {
      inWord = true;
      let closed = false;
      for (i++; i < line.length; i++) {
        const inner = line[i]!;
        if (inner === "\\" && i + 1 < line.length) word += line[++i];
        else if (inner === '"') {
          closed = true;
          break;
        } else word += inner;
      }
      if (!closed) {
        throw new SyntaxError("Cannot split the rule: a quote is not closed");
      }
    } else if (char === " " || char === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Whether rules of `chain` publish ports: Docker's, CNI portmap's and netavark's. */
export function isPublishingChain(chain: string): boolean {
  return chain === "DOCKER" || chain.startsWith("CNI-DN-") ||
    chain.startsWith("NETAVARK-DN-");
}

const PROTOCOL_NUMBERS: Readonly<Record<string, string>> = {
  "6": "tcp",
  "17": "udp",
};

interface RuleOptions {
  readonly chain: string;
  readonly values: Map<string, string>;
  readonly negated: Set<string>;
}

/** Reads `-A CHAIN [!] -opt value …` into option → value. */
function readRule(words: readonly string[]): RuleOptions {
  const values = new Map<string, string>();
  const negated = new Set<string>();
  const chain = words[1] ?? "";
  let negate = false;
  for (let i = 2; i < words.length; i++) {
    const word = words[i]!;
    if (word === "!") {
      negate = true;
      continue;
    }
    if (word.startsWith("-")) {
      const next = words[i + 1];
      const hasValue = next !== undefined && next !== "!" &&
        !next.startsWith("-");
      const value = hasValue ? next : "";
      if (hasValue) i++;
      // -m appears once per match module; keep the first of everything else.
      if (word === "-m") values.set(`-m ${value}`, "");
      else if (!values.has(word)) values.set(word, value);
      if (negate) negated.add(word);
    }
    negate = false;
  }
  return { chain, values, negated };
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new RangeError(
      `Cannot read port ${JSON.stringify(text)}: not a number`,
    );
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new RangeError(`Cannot read port ${port}: out of range`);
  }
  return port;
}

/** `80`, `8000:8010`, or a multiport list `80,443,8000:8010`. */
export function parsePortList(text: string): number[] {
  const ports: number[] = [];
  for (const part of text.split(",")) {
    const [low, high, extra] = part.split(":");
    if (extra !== undefined) {
      throw new RangeError(
        `Cannot read port range ${JSON.stringify(part)}: malformed`,
      );
    }
    const first = parsePort(low ?? "");
    const last = high === undefined ? first : parsePort(high);
    if (last < first) {
      throw new RangeError(`Cannot read port range ${part}: reversed`);
    }
    if (ports.length + (last - first + 1) > MAX_PORTS_PER_RULE) {
      throw new RangeError(
        `Cannot read the ports: more than ${MAX_PORTS_PER_RULE} in one rule`,
      );
    }
    for (let port = first; port <= last; port++) ports.push(port);
  }
  return ports;
}

/** The host address a rule's `-d` matches: one address, or all of the family. */
function destination(rule: RuleOptions, family: IpFamily): string {
  const any = family === "ipv4" ? "0.0.0.0" : "::";
  const value = rule.values.get("-d");
  // No -d, or "all but X": every address.
  if (value === undefined || rule.negated.has("-d")) return any;
  const [address, prefix] = value.split("/");
  const host = normaliseHostIp(address ?? "");
  if ((family === "ipv4") !== isIpv4(host)) {
    throw new TypeError(
      `Cannot read destination ${value}: not an ${family} address`,
    );
  }
  if (prefix === "0") return any;
  if (prefix !== undefined && prefix !== (family === "ipv4" ? "32" : "128")) {
    throw new TypeError(
      `Cannot read destination ${value}: a network, not one address`,
    );
  }
  return host;
}

/**
 * `172.17.0.2:8080`, `[fd00::2]:8080`, `10.0.0.2`, with an optional port
 * range and base (`10.88.0.6:82-83/18072`, as netavark writes ranges).
 */
function dnatTarget(text: string): { ip: string; port?: number } {
  const match =
    /^\[?([0-9A-Fa-f.:]+?)\]?(?::(\d{1,5})(?:-\d{1,5}(?:\/\d{1,5})?)?)?$/
      .exec(text);
  const ip = match?.[1];
  if (!match || ip === undefined) {
    throw new TypeError(
      `Cannot read --to-destination ${
        JSON.stringify(text.slice(0, 60))
      }: not address[:port]`,
    );
  }
  const normalised = normaliseHostIp(ip);
  const single = match[2] !== undefined &&
    !text.includes("-", text.lastIndexOf(":"));
  return single
    ? { ip: normalised, port: parsePort(match[2]!) }
    : { ip: normalised };
}

/** A short stable owner id for a rule: its text, or a hash of a long one. */
function ruleOwnerId(family: IpFamily, rule: string): string {
  const id = `${family} ${rule}`;
  if (id.length <= MAX_OWNER_LENGTH) return id;
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193) >>> 0;
  }
  return `${id.slice(0, MAX_OWNER_LENGTH - 10)}#${
    hash.toString(16).padStart(8, "0")
  }`;
}

/**
 * Names of CNI-DN and NETAVARK-DN chains from the comments of the jumps to
 * them: CNI's `name: "net" id: "ctr"`, netavark's `dnat name: net id: ctr`.
 */
function dnatChainNames(lines: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of lines) {
    if (
      !(line.startsWith("-A CNI-HOSTPORT-DNAT ") ||
        line.startsWith("-A NETAVARK-HOSTPORT-DNAT ")) ||
      line.length > MAX_RULE_LENGTH
    ) continue;
    try {
      const rule = readRule(splitRuleWords(line));
      const target = rule.values.get("-j") ?? "";
      const comment = rule.values.get("--comment") ?? "";
      const found = /name: "?([^" ]*)"? id: "?([^" ]*)"?/.exec(comment);
      if (isPublishingChain(target) && target !== "DOCKER" && found) {
        names.set(target, `${found[1]}/${found[2]!.slice(0, 64)}`);
      }
    } catch { /* a name is a nicety */ }
  }
  return names;
}

function ruleEntries(
  line: string,
  family: IpFamily,
  names: ReadonlyMap<string, string>,
): PortEntry[] {
  const rule = readRule(splitRuleWords(line));
  const rawProtocol = rule.values.get("-p");
  if (rawProtocol === undefined) {
    throw new TypeError("Cannot read the rule: no -p protocol");
  }
  const protocol = PROTOCOL_NUMBERS[rawProtocol] ?? rawProtocol;
  const portText = rule.values.get("--dport") ?? rule.values.get("--dports");
  if (portText === undefined) {
    throw new TypeError("Cannot read the rule: no --dport or --dports");
  }
  if (rule.negated.has("--dport") || rule.negated.has("--dports")) {
    throw new TypeError(
      "Cannot read the rule: a negated port match publishes no port",
    );
  }
  const ports = parsePortList(portText);
  const hostIp = destination(rule, family);
  const target = dnatTarget(rule.values.get("--to-destination") ?? "");
  const ownerId = ruleOwnerId(family, line.slice(3));
  const name = names.get(rule.chain) ?? `${rule.chain} → ${target.ip}`;
  return ports.map((hostPort) => {
    const entry: PortEntry = {
      ownerId,
      binding: makeBinding(protocol, hostIp, hostPort),
      containerIps: [target.ip],
      name,
    };
    return target.port !== undefined && ports.length === 1
      ? { ...entry, containerPort: target.port }
      : entry;
  });
}

/**
 * The published ports of one NAT table listing.
 *
 * @param text The output of `iptables-save -t nat` or `ip6tables-save -t nat`.
 * @param family Which of the two it is: a rule without `-d` matches every
 *   address of that family ("0.0.0.0" or "::").
 * @returns Entries, and the skipped DNAT rules with reasons.
 */
export function parseNatTable(text: string, family: IpFamily): NatScan {
  const lines = text.split("\n");
  const names = dnatChainNames(lines);
  const entries: PortEntry[] = [];
  const skipped: string[] = [];
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (!line.startsWith("-A ")) continue;
    const end = line.indexOf(" ", 3);
    const chain = line.slice(3, end === -1 ? undefined : end);
    if (!isPublishingChain(chain)) continue;
    if (line.length > MAX_RULE_LENGTH) {
      skipped.push(
        `${line.slice(0, 80)}…: longer than ${MAX_RULE_LENGTH} characters`,
      );
      continue;
    }
    if (!/(^| )-j DNAT( |$)/.test(line)) continue;
    try {
      entries.push(...ruleEntries(line, family, names));
    } catch (error) {
      skipped.push(`${line.slice(0, 200)}: ${(error as Error).message}`);
    }
  }
  return { entries, skipped };
}
