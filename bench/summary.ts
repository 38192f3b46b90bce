/**
 * Runs every figure script (or those named) one after another, each
 * printing its own details, then prints one table of every figure: median
 * (or the value), p99 where it is a series, the target where it
 * sets one and the ratio measured / target (at most 1.00 meets it).
 * Figures steer; nothing here fails on a missed target. A script that
 * fails is listed and makes the exit status 1.
 *
 * Run: `deno run --allow-all bench/summary.ts [script …]` (root, for the
 * engines and namespaces), e.g. `… summary.ts memory_figures idle_figures`.
 *
 * @module
 */
import { type Figure, print } from "./latency_support.ts";
import { AGENT_V8_FLAGS } from "../tests/agent_runtime.ts";

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
  "fuzz_long",
];

type Row = Figure & { readonly script: string };

function cell(value: number | undefined, digits = 2): string {
  if (value === undefined) return "";
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toFixed(digits);
}

/** The summary table as Markdown-style rows. */
export function summaryTable(rows: readonly Row[]): string[] {
  const table = [
    ["script", "figure", "median", "p99", "n", "unit", "target", "vs target"],
    ...rows.map((row) => {
      const ratios = [
        row.target?.median === undefined
          ? undefined
          : row.median / row.target.median,
        row.target?.p99 === undefined || row.p99 === undefined
          ? undefined
          : row.p99 / row.target.p99,
      ].filter((ratio): ratio is number => ratio !== undefined);
      const target = [
        row.target?.median === undefined ? "" : `< ${row.target.median}`,
        row.target?.p99 === undefined ? "" : `p99 < ${row.target.p99}`,
      ].filter(Boolean).join(", ");
      return [
        row.script.replace(/\.ts$/, ""),
        row.label,
        cell(row.median),
        cell(row.p99),
        String(row.n),
        row.unit,
        target,
        ratios.length === 0
          ? ""
          : `${cell(Math.max(...ratios))}${
            Math.max(...ratios) <= 1 ? " met" : " MISSED"
          }`,
      ];
    }),
  ];
  const widths = table[0]!.map((_, column) =>
    Math.max(...table.map((line) => line[column]!.length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((text, i) => text.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(table[0]!),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...table.slice(1).map(line),
  ];
}

if (import.meta.main) {
  const chosen = Deno.args.length > 0 ? Deno.args : FIGURE_SCRIPTS;
  const unknown = chosen.filter((name) => !FIGURE_SCRIPTS.includes(name));
  if (unknown.length > 0) {
    print(
      `summary: unknown script(s) ${unknown.join(", ")}; known: ${
        FIGURE_SCRIPTS.join(", ")
      }`,
      Deno.stderr,
    );
    Deno.exit(2);
  }
  const results = await Deno.makeTempFile({ prefix: "gabench" });
  const failed: string[] = [];
  try {
    for (const name of chosen) {
      print(`\n== ${name}`);
      const { code } = await new Deno.Command(Deno.execPath(), {
        // Scripts that run the agent in their own process then run it as
        // the start task does.
        args: [
          "run",
          "--allow-all",
          ...AGENT_V8_FLAGS,
          new URL(`./${name}.ts`, import.meta.url).pathname,
        ],
        env: { GA_BENCH_RESULTS: results },
        stdin: "null",
      }).spawn().status;
      if (code !== 0) failed.push(`${name} (exit ${code})`);
    }
    const rows = (await Deno.readTextFile(results)).split("\n")
      .filter(Boolean).map((line) => JSON.parse(line) as Row);
    print("\n== every figure");
    for (const line of summaryTable(rows)) print(line);
    if (failed.length > 0) print(`\nfailed: ${failed.join(", ")}`);
  } finally {
    await Deno.remove(results);
  }
  if (failed.length > 0) Deno.exit(1);
}
