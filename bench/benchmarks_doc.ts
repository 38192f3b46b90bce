/**
 * docs/benchmarks.md, written by the bench and never by hand: the figures
 * of every script that ran, each script's with the date, the machine and
 * the versions it was measured with. A run of some scripts replaces their
 * figures and keeps the others' (with their own dates), so the results are
 * kept as data (docs/benchmarks.json) and the page is rendered from it.
 * Pure functions: bench/summary.ts does the I/O.
 *
 * @module
 */
import type { Figure } from "./latency_support.ts";

/** Where and with what a script's figures were measured. */
export interface BenchEnvironment {
  /** When the run started (ISO 8601, UTC). */
  readonly date: string;
  /** Online CPUs. */
  readonly cores: number;
  /** The CPU's model name. */
  readonly cpu: string;
  /** The kernel release (`uname -r`). */
  readonly kernel: string;
  /** Total memory, GiB. */
  readonly memoryGiB: number;
  /** Deno's version. */
  readonly deno: string;
  /** V8's version. */
  readonly v8: string;
  /** The engines' and peers' versions, by name ("not found" where absent). */
  readonly peers: Readonly<Record<string, string>>;
}

/** One script's figures from one run. */
export interface ScriptResult {
  /** The script's name (a file in bench/ without `.ts`, or "deno bench"). */
  readonly script: string;
  /** Where and with what it ran. */
  readonly environment: BenchEnvironment;
  /** What it measured, in the order it printed them. */
  readonly figures: readonly Figure[];
  /** Why it failed (exit status), when it did: its figures may be partial. */
  readonly failed?: string;
}

/** The stored results: one entry per script, in the order they run. */
export interface BenchResults {
  /** Format version of this file. */
  readonly version: 1;
  /** The latest result of every script that ever ran. */
  readonly scripts: readonly ScriptResult[];
}

/**
 * Reads stored results, or none when `text` is undefined (no file yet).
 *
 * @throws {SyntaxError} When `text` is not stored results.
 */
export function parseResults(text: string | undefined): BenchResults {
  if (text === undefined) return { version: 1, scripts: [] };
  const value = JSON.parse(text) as Partial<BenchResults>;
  if (value.version !== 1 || !Array.isArray(value.scripts)) {
    throw new SyntaxError(
      "Cannot read docs/benchmarks.json: not version 1 results",
    );
  }
  return value as BenchResults;
}

/**
 * `previous` with each script of `fresh` replaced (or added), ordered as
 * `order` lists scripts (unknown ones last, by name).
 */
export function mergeResults(
  previous: BenchResults,
  fresh: readonly ScriptResult[],
  order: readonly string[],
): BenchResults {
  const byScript = new Map(previous.scripts.map((r) => [r.script, r]));
  for (const result of fresh) byScript.set(result.script, result);
  const rank = (script: string) => {
    const at = order.indexOf(script);
    return at === -1 ? order.length : at;
  };
  const scripts = [...byScript.values()].sort((a, b) =>
    rank(a.script) - rank(b.script) || a.script.localeCompare(b.script)
  );
  return { version: 1, scripts };
}

function number(value: number | undefined): string {
  if (value === undefined) return "";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(abs < 1 && value !== 0 ? 3 : 2);
}

/** The target of `figure` in words, and how the figure stands against it. */
export function targetCells(figure: Figure): [string, string] {
  const target = figure.target;
  if (target === undefined) return ["", ""];
  const words: string[] = [];
  const ratios: number[] = [];
  if (target.median !== undefined) {
    words.push(`< ${number(target.median)}`);
    ratios.push(figure.median / target.median);
  }
  if (target.p99 !== undefined) {
    words.push(`p99 < ${number(target.p99)}`);
    if (figure.p99 !== undefined) ratios.push(figure.p99 / target.p99);
  }
  // A figure that may be negative (a time after which the port can already
  // be there) is held against the Go agent's by difference, not ratio.
  let difference: number | undefined;
  if (target.noWorseThanGo) {
    words.push("≤ Go agent");
    if (figure.go !== undefined && figure.go > 0 && figure.median >= 0) {
      ratios.push(figure.median / figure.go);
    } else if (figure.go !== undefined) {
      difference = figure.median - figure.go;
    }
  }
  if (ratios.length === 0 && difference === undefined) {
    return [words.join(", "), ""];
  }
  const worst = ratios.length > 0 ? Math.max(...ratios) : undefined;
  const met = (worst === undefined || worst <= 1) &&
    (difference === undefined || difference <= 0);
  const stands = [
    ...worst === undefined ? [] : [worst.toFixed(2)],
    ...difference === undefined ? [] : [
      `${difference > 0 ? "+" : ""}${number(difference)} ${figure.unit} vs Go`,
    ],
  ];
  return [words.join(", "), `${stands.join(", ")} ${met ? "met" : "missed"}`];
}

/** Rows of one Markdown table, columns padded to one width. */
export function markdownTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) =>
    Math.max(3, ...rows.map((row) => (row[column] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    `| ${
      widths.map((width, i) => (cells[i] ?? "").padEnd(width)).join(" | ")
    } |`;
  return [
    line(rows[0]!),
    `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`,
    ...rows.slice(1).map(line),
  ];
}

/** The table of one script's figures. */
export function figureTable(figures: readonly Figure[]): string[] {
  const withGo = figures.some((f) => f.go !== undefined);
  const header = [
    "figure",
    "value",
    "p99",
    "n",
    "unit",
    ...(withGo ? ["Go agent, same run", "ours / Go"] : []),
    "target",
    "vs target",
  ];
  return markdownTable([
    header,
    ...figures.map((figure) => [
      figure.label,
      `${number(figure.median)}${figure.statistic === "mean" ? " (mean)" : ""}`,
      number(figure.p99),
      String(figure.n),
      figure.unit,
      ...(withGo
        ? [
          number(figure.go),
          // A ratio of times that may be negative says nothing (see targetCells).
          figure.go === undefined || figure.go <= 0 || figure.median < 0
            ? ""
            : (figure.median / figure.go).toFixed(2),
        ]
        : []),
      ...targetCells(figure),
    ]),
  ]);
}

function environmentLine(environment: BenchEnvironment): string {
  const peers = Object.entries(environment.peers)
    .map(([name, version]) => `${name} ${version}`).join(", ");
  return [
    `Measured ${environment.date.slice(0, 16).replace("T", " ")} UTC`,
    `on ${environment.cores} cores (${environment.cpu}),`,
    `${number(environment.memoryGiB)} GiB, Linux ${environment.kernel};`,
    `Deno ${environment.deno} (V8 ${environment.v8})`,
    peers === "" ? "" : `; ${peers}`,
  ].join(" ").replace(" ;", ";") + ".";
}

/**
 * docs/benchmarks.md from stored results: a section per script with its
 * description (from `descriptions`), when and where it ran, and its table.
 */
export function renderBenchmarks(
  results: BenchResults,
  descriptions: Readonly<Record<string, string>>,
): string {
  const lines = [
    "# Benchmarks",
    "",
    "Written by `deno task bench` (bench/summary.ts); do not edit by hand.",
    "Each section says when, on what machine and with which versions its",
    "figures were measured; a run of some scripts",
    "(`deno run --allow-all bench/summary.ts NAME …`) replaces only theirs.",
    "Values are medians unless marked (mean); a ratio at most 1.00 meets",
    "its target. Figures steer: none is pass/fail, and absolute times drift",
    "from run to run on a shared 2-core machine, so compare ratios measured",
    "in the same run.",
  ];
  for (const result of results.scripts) {
    lines.push("", `## ${result.script}`, "");
    const description = descriptions[result.script];
    if (description) lines.push(description, "");
    lines.push(environmentLine(result.environment), "");
    if (result.failed) {
      lines.push(
        `The script failed (${result.failed}): figures may be partial.`,
        "",
      );
    }
    if (result.figures.length === 0) {
      lines.push("No figures (the script measured nothing here).");
    } else {
      lines.push(...figureTable(result.figures));
    }
  }
  return `${lines.join("\n")}\n`;
}
