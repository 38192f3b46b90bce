/**
 * Fuzz properties of every parser that reads outside input: each is fed
 * hostile input (random text, JSON of random shape, recorded input with
 * random mutations, random bytes) and must either return values the
 * tracker accepts or throw one of the errors it documents, never anything
 * else, never hang. Run briefly in the tests (tests/fuzz_test.ts) and long
 * as a bench task (bench/fuzz_long.ts).
 *
 * @module
 */
import fc from "fast-check";
import { Buffer } from "node:buffer";
import { kubeconfigAccess } from "../../sources/kubernetes/main_thread/kubeconfig_access.ts";
import { answer } from "../../control/control_server.ts";
import type { AgentStatus } from "../../control/control_view.ts";
import { parseOpenFilesLimit } from "../../support/open_files.ts";
import { CONTAINERD_PACKAGE_DEFINITION } from "../../sources/containerd/containerd_protos.ts";
import {
  type EnvelopeRecord,
  parseContainerdEvent,
} from "../../sources/containerd/parse_event.ts";
import {
  containerOwner,
  parseNerdctlPortsLabel,
  parseNetworkConfig,
} from "../../sources/containerd/nerdctl_ports.ts";
import {
  parseDockerEvent,
  parseDockerInspect,
} from "../../sources/docker/parse_docker.ts";
import { Http1ResponseReader } from "../../sources/docker/http1_response.ts";
import { parseNatTable } from "../../sources/iptables/parse_iptables.ts";
import { serviceEntries } from "../../sources/kubernetes/parse_service.ts";
import {
  parseListPage,
  parseWatchEvent,
} from "../../sources/kubernetes/parse_watch.ts";
import { parseKubeConnection } from "../../sources/kubernetes/main_thread/kube_connection.ts";
import { MESSAGE_VERSION, parseSourceMessage } from "../../sources/messages.ts";
import { parseProcNet } from "../../support/parse_proc_net.ts";
import { decodeDiagReply } from "../../support/sock_diag.ts";
import type { PortEntry } from "../../binding/binding.ts";
import { PortTracker } from "../../tracker/port_tracker.ts";

const ROOT = new URL("../../", import.meta.url);
/** An inspect answer as dockerd 20.10 sends it (chunked). */
const DOCKER_RESPONSE = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n" +
  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
  '1a\r\n{"Id":"e3e5","State":{}}\n\r\n0\r\n\r\n';
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

/** Errors a parser documents; anything else is a bug. */
function documented(error: unknown): boolean {
  return error instanceof TypeError || error instanceof SyntaxError ||
    error instanceof RangeError;
}

/** Entries a parser returned must pass the worker message guard and the tracker. */
function acceptable(entries: readonly PortEntry[]): void {
  if (entries.length === 0) return;
  const message = parseSourceMessage({
    v: MESSAGE_VERSION,
    type: "snapshot",
    entries,
  });
  if (message.type !== "snapshot") throw new Error("guard changed the type");
  new PortTracker().apply({
    type: "snapshot",
    source: "fuzz",
    entries: message.entries,
  });
}

/** Runs `parse`; a documented error is fine, its result must be acceptable. */
function check(parse: () => readonly PortEntry[] | undefined): void {
  let entries: readonly PortEntry[] | undefined;
  try {
    entries = parse();
  } catch (error) {
    if (documented(error)) return;
    throw error;
  }
  acceptable(entries ?? []);
}

/** Text with random edits: cut, duplicated lines, replaced characters. */
function mutated(base: string): fc.Arbitrary<string> {
  return fc.tuple(
    fc.nat(base.length),
    fc.nat(base.length),
    fc.string({ maxLength: 40 }),
    fc.boolean(),
  ).map(([a, b, insert, duplicate]) => {
    const [from, to] = a < b ? [a, b] : [b, a];
    const edited = base.slice(0, from) + insert + base.slice(to);
    return duplicate
      ? `${edited}\n${edited.split("\n").reverse().join("\n")}`
      : edited;
  });
}

const jsonValue = fc.jsonValue({ maxDepth: 4 });
const OWNER = containerOwner("ga", { id: "web", labels: {} });
const subscribe = (CONTAINERD_PACKAGE_DEFINITION[
  "containerd.services.events.v1.Events"
] as unknown as Record<
  string,
  { responseDeserialize(b: Buffer): EnvelopeRecord }
>)
  .Subscribe!;

/** One property per parser: name and the fast-check property. */
export function parserProperties(): [
  string,
  fc.IPropertyWithHooks<never[]> | fc.IProperty<unknown[]>,
][] {
  const dockerEvents = read("sources/docker/testdata/events.jsonl") +
    read("sources/docker/testdata/podman_events.jsonl");
  const dockerInspect = read("sources/docker/testdata/inspect.json");
  const nat = read("sources/iptables/testdata/docker.nat") +
    read("sources/iptables/testdata/cni.nat") +
    read("sources/iptables/testdata/netavark.nat");
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const procTcp = read("support/testdata/proc_net/tcp");
  const label = JSON.stringify([
    { HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0" },
  ]);
  const service = JSON.stringify({
    metadata: { name: "web", namespace: "default", uid: "u1" },
    spec: {
      type: "NodePort",
      ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }],
    },
  });
  const kubeconfig = new FakeKubeconfig().text;
  return [
    [
      "open-files limits (/proc/self/limits)",
      fc.property(fc.oneof(mutated(limits), fc.string()), (text) => {
        const limit = parseOpenFilesLimit(text);
        if (
          limit !== undefined &&
          !(limit.soft >= 0 && limit.hard >= 0)
        ) throw new Error(`nonsense limit ${JSON.stringify(limit)}`);
      }),
    ],
    [
      "control API request lines",
      fc.property(
        fc.string(),
        fc.oneof(fc.string(), fc.constantFrom("/v1/ports", "/v1/status")),
        (method, target) => {
          const reply = answer(method, target, {
            ports: () => [],
            status: () => ({}) as AgentStatus,
          });
          if (![200, 404, 405].includes(reply.status)) {
            throw new Error(`status ${reply.status}`);
          }
        },
      ),
    ],
    [
      "docker event lines",
      fc.property(fc.oneof(mutated(dockerEvents), fc.string()), (text) => {
        for (const line of text.split("\n")) {
          try {
            parseDockerEvent(line);
          } catch (error) {
            if (!documented(error)) throw error;
          }
        }
      }),
    ],
    [
      "docker inspect objects",
      fc.property(
        fc.oneof(
          mutated(dockerInspect),
          jsonValue.map((v) => JSON.stringify(v)),
        ),
        (text) => {
          let raw: unknown;
          try {
            raw = JSON.parse(text);
          } catch {
            return;
          }
          check(() => parseDockerInspect(raw).entries);
        },
      ),
    ],
    [
      "nerdctl port labels",
      fc.property(
        fc.oneof(
          mutated(label),
          jsonValue.map((v) => JSON.stringify(v)),
          fc.string(),
        ),
        (text) => check(() => parseNerdctlPortsLabel(text, OWNER).entries),
      ),
    ],
    [
      "network-config.json",
      fc.property(
        fc.oneof(
          mutated(`{"portMappings":${label}}`),
          jsonValue.map((v) => JSON.stringify({ portMappings: v })),
        ),
        (text) => check(() => parseNetworkConfig(text, OWNER).entries),
      ),
    ],
    [
      "containerd envelopes (random bytes)",
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(
          "/tasks/start",
          "/tasks/exit",
          "/tasks/delete",
          "/containers/update",
          "/containers/delete",
          "/tasks/create",
        ),
        (bytes, topic) => {
          try {
            parseContainerdEvent({
              namespace: "ga",
              topic,
              event: {
                type_url: `containerd.events.${
                  topic.includes("start") ? "TaskStart" : "TaskExit"
                }`,
                value: bytes,
              },
            });
          } catch (error) {
            if (!documented(error)) throw error;
          }
          try {
            parseContainerdEvent(
              subscribe.responseDeserialize(Buffer.from(bytes)),
            );
          } catch (error) {
            // protobufjs rejects garbage with plain Errors before our parser runs.
            if (!(error instanceof Error)) throw error;
          }
        },
      ),
    ],
    [
      "iptables-save lines",
      fc.property(
        fc.oneof(mutated(nat), fc.string({ maxLength: 300 })),
        (text) => {
          acceptable(parseNatTable(text, "ipv4").entries);
          acceptable(parseNatTable(text, "ipv6").entries);
        },
      ),
    ],
    [
      "/proc/net lines",
      fc.property(
        fc.oneof(mutated(procTcp), fc.string({ maxLength: 300 })),
        (text) => {
          const parsed = parseProcNet(text, "tcp");
          acceptable(
            parsed.sockets.map((s) => ({ ownerId: "x", binding: s.binding })),
          );
        },
      ),
    ],
    [
      "sock_diag replies (random bytes)",
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          const reply = decodeDiagReply(bytes, "tcp");
          acceptable(
            reply.sockets.map((s) => ({ ownerId: "x", binding: s.binding })),
          );
        } catch (error) {
          if (!(error instanceof Error)) throw error;
        }
      }),
    ],
    [
      "Docker HTTP/1.1 responses (recorded, mutated, split anywhere)",
      fc.property(
        fc.oneof(
          mutated(DOCKER_RESPONSE),
          fc.string({ maxLength: 300 }).map((t) => `HTTP/1.1 200 OK\r\n${t}`),
        ),
        fc.integer({ min: 1, max: 64 }),
        (text, size) => {
          const bytes = new TextEncoder().encode(text);
          const reader = new Http1ResponseReader("GET", {
            maxHeaderBytes: 4096,
            maxBodyBytes: 4096,
          });
          try {
            for (let i = 0; i < bytes.length; i += size) {
              if (reader.push(bytes.subarray(i, i + size))) return;
            }
            reader.end();
          } catch (error) {
            if (!documented(error)) throw error;
          }
        },
      ),
    ],
    [
      "Kubernetes service objects",
      fc.property(
        fc.oneof(mutated(service), jsonValue.map((v) => JSON.stringify(v))),
        (text) => {
          let raw: unknown;
          try {
            raw = JSON.parse(text);
          } catch {
            return;
          }
          check(() => serviceEntries(raw, "0.0.0.0").entries);
        },
      ),
    ],
    [
      "kubeconfigs",
      fc.property(fc.oneof(mutated(kubeconfig), fc.string()), (text) => {
        let access;
        try {
          access = kubeconfigAccess(text, "/k.yaml");
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
          return;
        }
        // What the main thread sends, the worker's guard must accept.
        parseKubeConnection(structuredClone(access.connection));
      }),
    ],
    [
      "Kubernetes watch event lines",
      fc.property(
        fc.oneof(mutated(watchLine), jsonValue.map((v) => JSON.stringify(v))),
        (line) => {
          let event;
          try {
            event = parseWatchEvent(line);
          } catch (error) {
            if (!(error instanceof TypeError)) throw error;
            return;
          }
          if (event.kind === "change") {
            check(() => serviceEntries(event.object, "127.0.0.1").entries);
          }
        },
      ),
    ],
    [
      "Kubernetes list pages",
      fc.property(jsonValue, (value) => {
        try {
          const page = parseListPage(value);
          if (!Array.isArray(page.items)) throw new Error("items not a list");
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
        }
      }),
    ],
    [
      "worker messages",
      fc.property(jsonValue, (value) => {
        try {
          const message = parseSourceMessage(value);
          if (message.type === "snapshot") acceptable(message.entries);
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
        }
      }),
    ],
    [
      "worker log records",
      fc.property(
        fc.record({
          v: fc.constant(MESSAGE_VERSION),
          type: fc.constant("log"),
          level: fc.oneof(
            fc.constantFrom("debug", "info", "warning", "error"),
            jsonValue,
          ),
          message: fc.oneof(fc.string(), jsonValue),
          properties: fc.oneof(
            fc.dictionary(fc.string(), jsonValue),
            fc.dictionary(fc.string(), fc.anything()),
            jsonValue,
          ),
        }, { requiredKeys: [] }),
        (value) => {
          try {
            const message = parseSourceMessage(value);
            if (message.type !== "log") {
              throw new Error("guard changed the type");
            }
            for (const item of Object.values(message.properties)) {
              if (item !== null && typeof item === "object") {
                throw new Error("an object passed as a log value");
              }
            }
          } catch (error) {
            if (!(error instanceof TypeError)) throw error;
          }
        },
      ),
    ],
  ];
}

const watchLine = JSON.stringify({
  type: "MODIFIED",
  object: {
    metadata: {
      uid: "u1",
      namespace: "default",
      name: "web",
      resourceVersion: "7",
    },
    spec: {
      type: "NodePort",
      ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }],
    },
  },
});

class FakeKubeconfig {
  readonly text = [
    "apiVersion: v1",
    "clusters:",
    "- cluster: {server: 'https://127.0.0.1:6443', certificate-authority: ca.crt}",
    "  name: default",
    "contexts:",
    "- context: {cluster: default, user: default}",
    "  name: default",
    "current-context: default",
    "users:",
    "- name: default",
    "  user: {client-key: k.key, client-certificate-data: Q0VSVA==, token: t, username: u, password: p}",
  ].join("\n");
}
