/**
 * `deno task bench`: runs the micro benchmarks (`deno bench`) and every
 * figure script (or those named) one after another, each printing its own
 * details, then prints one table of every figure: median (or the value),
 * p99 where it is a series, the target where the project sets one and the
 * ratio measured / target (at most 1.00 meets it). It writes the figures,
 * with the date, the machine and the versions, to docs/benchmarks.md
 * (bench/benchmarks_doc.ts); a run of some scripts replaces only theirs.
 * Figures steer; nothing here fails on a missed target. A script that
 * fails is listed and makes the exit status 1.
 *
 * Run: `deno run --allow-all bench/summary.ts [script …]` (root, for the
 * engines and namespaces), e.g. `… summary.ts memory_figures idle_figures`;
 * `"deno bench"` names the micro benchmarks.
 *
 * @module
 */
import { type Figure, print } from "./latency_support.ts";
import { AGENT_V8_FLAGS } from "../tests/agent_runtime.ts";
import { peerPath, peersDir } from "../tests/engines/peers.ts";
import {
  type BenchEnvironment,
  markdownTable,
  mergeResults,
  parseResults,
  renderBenchmarks,
  type ScriptResult,
  targetCells,
} from "./benchmarks_doc.ts";

/** Every figure script, in the order they run. */
export const FIGURE_SCRIPTS: readonly string[] = [
  "docker_latency",
  "docker_e2e_figures",
  "go_agent_figures",
  "containerd_latency",
  "iptables_figures",
  "procnet_latency",
  "kubernetes_figures",
  "kube_apiserver_figures",
  "host_switch_figures",
  "scale_figures",
  "idle_figures",
  "memory_figures",
  "isolate_figures",
  "release_figures",
  "fuzz_long",
];

type Row = Figure & { readonly script: string };

function cell(value: number | undefined, digits = 2): string {
  if (value === undefined) return "";
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toFixed(digits);
}

/** The summary table of a run, as Markdown rows. */
export function summaryTable(rows: readonly Row[]): string[] {
  return markdownTable([
    [
      "script",
      "figure",
      "median",
      "p99",
      "n",
      "unit",
      "Go",
      "target",
      "vs target",
    ],
    ...rows.map((row) => [
      row.script.replace(/\.ts$/, ""),
      row.label,
      `${cell(row.median)}${row.statistic === "mean" ? " (mean)" : ""}`,
      cell(row.p99),
      String(row.n),
      row.unit,
      cell(row.go),
      ...targetCells(row),
    ]),
  ]);
}

/** What each script measures, for docs/benchmarks.md. */
export const SCRIPT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  "deno bench":
    "Micro benchmarks (`bench/*_bench.ts`, `deno bench`): the tracker, the message guard, the delivery queue, /proc/net and iptables parsing, forwarding over real loopback sockets. Mean per iteration.",
  docker_latency:
    "Real dockerd in a network namespace, containers started one at a time: the event line at the Docker worker → the forwarder's add; the part of it spent on the main thread; dockerd's own inspect at the start event (the floor any agent waits for); `docker run` returned → add; a new agent's start → every running container tracked.",
  docker_e2e_figures:
    "Privileged mode, the agent as a process as users run it: `docker run -p` returned → the TCP receiver has the PortMapping JSON; the engine's start event → the JSON.",
  go_agent_figures:
    "Beside the Go agent v0.3.19 (`GO_AGENT`), alternating rounds against one dockerd, privileged mode, Docker only, `-iptables=false` for both: start event → first PortMapping JSON (median, p95), `docker run -d` returned → that JSON, CPU in the 20 s after the last container, RSS split into private and file pages beside Deno's floor for our shape (an empty script with as many idle workers), and where our time goes: each stage's wall-clock stamp (`GUEST_AGENT_STAGE_PROFILE`) from the start event, from one extra round of ours after the timed ones (the timed rounds run without the profile, as users do).",
  containerd_latency:
    "Real containerd driven by `ctr run` with nerdctl's port label: event → add; a snapshot of many containers; a new agent's start → all tracked.",
  iptables_figures:
    "`iptables -A` returned → add, through nf_tables change notifications and through polling of the legacy backend; idle CPU with many rules.",
  procnet_latency:
    "Kernel tracepoints (tracefs mounted): `listen` returned → add, TCP close → remove, UDP bind → add; the same with polling (tracefs hidden).",
  kubernetes_figures:
    "A fake API server speaking the real list + watch protocol with thousands of services: start → first snapshot → all forwarded; watch event → add; RSS.",
  kube_apiserver_figures:
    "A real kube-apiserver SIGKILLed or SIGTERMed and started again: `/readyz` answers → a service created right then is forwarded.",
  host_switch_figures:
    "Real gvproxy (v0.8.1, v0.8.7) restarted empty → every one of the agent's mappings back.",
  scale_figures:
    "1,000 owners × 10 ports into the real tracker and listener forwarder: snapshot → all listening; tracker entries per second; RSS growth.",
  idle_figures:
    "CPU while idle after settling, each source combination in a network namespace of its own (the fake API server too), tracepoints on and off.",
  memory_figures:
    "RSS 5 s after start with `--dry-run`, per source combination, from the source tree and from the bundle, beside Deno's own floor (an empty script; with idle workers).",
  isolate_figures:
    "What each isolate holds: Deno's empty script and an idle worker, then main.ts's module graph and each source's worker entry loaded in one process (start task's V8 flags, heap after a full collection): our modules, npm packages, V8 heap, and the private memory each adds.",
  release_figures:
    "`deno task release`'s archives: each architecture's archive and what it unpacks to, beside the Go agent v0.3.19's binary (Go column). Then the released amd64 program in an Alpine-like root (busybox, musl, the bundled glibc) beside `deno task start`'s command on this machine, alternating, the same flags (`--dry-run --no-iptables --procnet`), each in a network namespace of its own, after one unmeasured start each: start → the first source connected, and private memory then.",
  fuzz_long: "Hostile inputs into every parser; the figure is failures found.",
};

/** The name the micro benchmarks are stored under. */
export const MICRO_BENCHMARKS = "deno bench";

interface DenoBenchJson {
  readonly benches: readonly {
    readonly origin: string;
    readonly group: string | null;
    readonly name: string;
    readonly results: readonly {
      readonly ok?: { n: number; avg: number; p99: number };
    }[];
  }[];
}

/**
 * The figures of `deno bench --json` output: each bench's mean and p99 per
 * iteration in µs, labelled with its file.
 *
 * @throws {SyntaxError} When `json` is not deno bench's JSON.
 */
export function microFigures(json: string): Figure[] {
  const parsed = JSON.parse(json) as Partial<DenoBenchJson>;
  if (!Array.isArray(parsed.benches)) {
    throw new SyntaxError("Cannot read deno bench's JSON: no benches");
  }
  return parsed.benches.flatMap((bench) => {
    const ok = bench.results[0]?.ok;
    if (ok === undefined) return [];
    const file = bench.origin.slice(bench.origin.lastIndexOf("/") + 1)
      .replace(/\.ts$/, "");
    return [{
      label: `${file}: ${bench.name}`,
      median: ok.avg / 1000,
      statistic: "mean" as const,
      p99: ok.p99 / 1000,
      n: ok.n,
      unit: "µs",
    }];
  });
}

async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    const text = new TextDecoder().decode(stdout).trim() ||
      new TextDecoder().decode(stderr).trim();
    return text.split("\n")[0] ?? "";
  } catch {
    return "not found";
  }
}

/** This machine and the versions of Deno, the engines and the peers. */
export async function readEnvironment(): Promise<BenchEnvironment> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const peers = peersDir();
  const version = (text: string, pattern: RegExp) =>
    pattern.exec(text)?.[1] ?? "not found";
  const goAgent = Deno.env.get("GO_AGENT") ??
    peerPath("rancher-desktop-guestagent-v0.3.19");
  return {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    kernel: Deno.osRelease(),
    memoryGiB: Deno.systemMemoryInfo().total / 2 ** 30,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    peers: {
      dockerd: version(
        await firstLine("dockerd", ["--version"]),
        /version ([^ ,]+)/,
      ),
      containerd: version(
        await firstLine("containerd", ["--version"]),
        /containerd \S+ (\S+)/,
      ),
      podman: version(
        await firstLine("podman", ["--version"]),
        /version (\S+)/,
      ),
      iptables: version(
        await firstLine("iptables", ["--version"]),
        /(v\S+ \(\S+\))/,
      ),
      gvproxy: [
        version(
          await firstLine(`${peers}gvproxy-v0.8.1`, ["-version"]),
          /version (\S+)/,
        ),
        version(
          await firstLine(`${peers}gvproxy-v0.8.7`, ["-version"]),
          /version (\S+)/,
        ),
      ].join(" and "),
      "kube-apiserver": version(
        await firstLine(`${peers}kube-apiserver-v1.32.13`, ["--version"]),
        /Kubernetes (\S+)/,
      ),
      etcd: version(await firstLine("etcd", ["--version"]), /Version: (\S+)/),
      "Go agent": await Deno.stat(goAgent).then(
        () => version(goAgent, /guestagent-(v[\d.]+)/),
        () => "not found",
      ),
    },
  };
}

const DOCS = new URL("../docs/", import.meta.url);

/** Stores `fresh` into docs/benchmarks.json and renders docs/benchmarks.md. */
async function writeDocs(fresh: readonly ScriptResult[]): Promise<void> {
  const jsonFile = new URL("benchmarks.json", DOCS);
  const previous = parseResults(
    await Deno.readTextFile(jsonFile).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }),
  );
  const merged = mergeResults(previous, fresh, [
    MICRO_BENCHMARKS,
    ...FIGURE_SCRIPTS,
  ]);
  await Deno.writeTextFile(jsonFile, `${JSON.stringify(merged, null, 2)}\n`);
  const page = new URL("benchmarks.md", DOCS);
  await Deno.writeTextFile(page, renderBenchmarks(merged, SCRIPT_DESCRIPTIONS));
  // The page is part of the repository: formatted as `deno fmt` wants it.
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", page.pathname, jsonFile.pathname],
    stdin: "null",
  }).output();
}

async function runMicroBenchmarks(
  environment: BenchEnvironment,
): Promise<ScriptResult> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "--json"],
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const figures = code === 0 ? microFigures(text) : [];
  for (const figure of figures) {
    print(
      `${figure.label.padEnd(60)} mean ${figure.median.toFixed(2)} µs  p99 ${
        figure.p99?.toFixed(2)
      } µs`,
    );
  }
  return {
    script: MICRO_BENCHMARKS,
    environment,
    figures,
    ...(code === 0 ? {} : { failed: `exit ${code}` }),
  };
}

async function runFigureScript(
  name: string,
  environment: BenchEnvironment,
): Promise<ScriptResult> {
  const results = await Deno.makeTempFile({ prefix: "gabench" });
  try {
    const { code } = await new Deno.Command(Deno.execPath(), {
      // Scripts that run the agent in their own process then run it as the
      // start task does.
      args: [
        "run",
        "--allow-all",
        ...AGENT_V8_FLAGS,
        new URL(`./${name}.ts`, import.meta.url).pathname,
      ],
      env: { GA_BENCH_RESULTS: results },
      stdin: "null",
    }).spawn().status;
    const figures = (await Deno.readTextFile(results)).split("\n")
      .filter(Boolean).map((line) => {
        const { script: _, ...figure } = JSON.parse(line) as Row;
        return figure;
      });
    return {
      script: name,
      environment,
      figures,
      ...(code === 0 ? {} : { failed: `exit ${code}` }),
    };
  } finally {
    await Deno.remove(results);
  }
}

if (import.meta.main) {
  const known = [MICRO_BENCHMARKS, ...FIGURE_SCRIPTS];
  const chosen = Deno.args.length > 0 ? Deno.args : known;
  const unknown = chosen.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    print(
      `summary: unknown script(s) ${unknown.join(", ")}; known: ${
        known.map((name) => JSON.stringify(name)).join(", ")
      }`,
      Deno.stderr,
    );
    Deno.exit(2);
  }
  const environment = await readEnvironment();
  const fresh: ScriptResult[] = [];
  for (const name of chosen) {
    print(`\n== ${name}`);
    fresh.push(
      name === MICRO_BENCHMARKS
        ? await runMicroBenchmarks(environment)
        : await runFigureScript(name, environment),
    );
    // Written after each script: a long run stopped half-way keeps what
    // it measured.
    await writeDocs(fresh);
  }
  print("\n== every figure");
  const rows = fresh.flatMap((result) =>
    result.figures.map((figure) => ({ script: result.script, ...figure }))
  );
  for (const line of summaryTable(rows)) print(line);
  const failed = fresh.filter((result) => result.failed);
  if (failed.length > 0) {
    print(
      `\nfailed: ${
        failed.map((result) => `${result.script} (${result.failed})`).join(", ")
      }`,
    );
    Deno.exit(1);
  }
  print("\nwritten: docs/benchmarks.md (and docs/benchmarks.json)");
}
