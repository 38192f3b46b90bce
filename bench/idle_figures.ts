/**
 * Idle cost of the agent process per source combination: CPU used over an
 * idle period (as a share of one core) and RSS. Each run has a network
 * namespace of its own: the agent (tests/fixtures/agent_in_netns.ts) and,
 * with the Kubernetes source, the fake API server it watches (10 services,
 * tests/fixtures/fake_kube_api_server.ts, a process of its own on that
 * namespace's loopback), so neither this machine's rules nor its sockets
 * count.
 *
 * Run: `deno run --allow-all bench/idle_figures.ts [idle seconds] [sources]`
 * (root); `sources` picks one combination, e.g. `iptables+kubernetes+procnet`.
 *
 * @module
 */
import {
  canCreateNamespaces,
  createTestNamespace,
  type TestNamespace,
  withTracefs,
} from "../tests/netns.ts";
import { startNetnsAgent } from "../tests/netns_agent.ts";
import { onlySources } from "../tests/test_options.ts";
import type { SourceName } from "../sources/registry.ts";
import {
  cpuSecondsOver,
  print,
  processUsage,
  reportValue,
} from "./latency_support.ts";

const IDLE_SECONDS = Number(Deno.args[0] ?? 60);
const ONLY = Deno.args[1];

if (!await canCreateNamespaces()) {
  print("idle_figures: needs root and ip netns", Deno.stderr);
  Deno.exit(1);
}

const dir = await Deno.makeTempDir({ prefix: "gaidle" });
const FAKE_API = new URL(
  "../tests/fixtures/fake_kube_api_server.ts",
  import.meta.url,
);

/**
 * Starts the fake API server in `ns` and writes its kubeconfig to `path`.
 *
 * @returns A function that stops it.
 */
async function startFakeApi(
  ns: TestNamespace,
  path: string,
): Promise<() => Promise<void>> {
  const child = ns.spawn(
    [Deno.execPath(), "run", "--allow-all", FAKE_API.pathname, "10"],
    { stdout: "piped", stderr: "inherit" },
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error("the fake API server exited at start");
    text += chunk.value;
  }
  await Deno.writeTextFile(path, JSON.parse(text.split("\n")[0]!));
  return async () => {
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  };
}

const combos: SourceName[][] = [
  ["procnet"],
  ["iptables"],
  ["iptables", "procnet"],
  ["kubernetes"],
  ["iptables", "kubernetes", "procnet"],
].filter((sources) =>
  ONLY === undefined || sources.join("+") === ONLY
) as SourceName[][];
/**
 * How long the agent runs before the idle period: V8 keeps collecting for
 * tens of seconds after start-up (measured here: 18 wake-ups and 80 ms of CPU
 * in the 30 s after a 10 s settle, 2 wake-ups and 1.2 ms after 60 s).
 */
const SETTLE_MS = 60_000;
print(
  `idle ${IDLE_SECONDS} s per combination after ${
    SETTLE_MS / 1000
  } s; tracefs mounted in the agent's mount namespace (procnet woken by tracepoints) unless said; CPU from the threads' schedstat plus child processes (iptables-save)`,
);
try {
  const runs = [
    ...combos.map((sources) => ({ sources, tracefs: "mounted" as const })),
    ...ONLY === undefined
      ? [{ sources: ["procnet"] as SourceName[], tracefs: "hidden" as const }]
      : [],
  ];
  for (const { sources, tracefs } of runs) {
    const own = await createTestNamespace("ga-idle");
    const stopApi = sources.includes("kubernetes")
      ? await startFakeApi(own, `${dir}/kubeconfig`)
      : undefined;
    const where: Pick<TestNamespace, "spawn"> = withTracefs(own, tracefs);
    const agent = await startNetnsAgent(where, {
      ...onlySources(...sources),
      mode: "listeners",
      kubeconfig: `${dir}/kubeconfig`,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const cpu = await cpuSecondsOver(agent.pid, IDLE_SECONDS * 1000);
      const name = sources.join(" + ") +
        (tracefs === "hidden" ? " (polling: no tracefs)" : "");
      reportValue(
        `idle CPU, ${name}`,
        cpu / IDLE_SECONDS * 100,
        "% of a core",
        sources.length === 1 && sources[0] === "procnet" ? 0.02 : 0.05,
      );
      reportValue(`idle RSS, ${name}`, processUsage(agent.pid).rssMiB, "MiB");
    } finally {
      await agent.stop();
      await stopApi?.();
      await own.delete();
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
