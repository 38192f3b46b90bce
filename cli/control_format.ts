/**
 * The `ports` and `status` tables as text: what the commands print from the
 * control API's rows (control/control_view.ts).
 *
 * @module
 */
import type {
  AgentStatus,
  ForwarderRow,
  PortDelivery,
  PortRow,
} from "../control/control_view.ts";
import { escapeForTerminal } from "../support/terminal_text.ts";

function age(since: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - since) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor(seconds % 3600 / 60)}m`;
}

/** A table whose cells are shown escaped (names come from sources). */
function table(header: string[], cells: string[][]): string {
  const rows = cells.map((row) => row.map(escapeForTerminal));
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)
    )
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

function deliveryText(delivery: PortDelivery, now: number): string {
  switch (delivery.state) {
    case "forwarded":
      return `${delivery.forwarder}: forwarded`;
    case "logged":
      return `${delivery.forwarder}: logged only`;
    case "skipped":
      return `${delivery.forwarder}: skipped (${delivery.reason ?? "?"})`;
    case "retrying":
      return `${delivery.forwarder}: retrying (${delivery.attempts} failed, for ${
        age(delivery.since, now)
      }): ${delivery.lastError ?? "?"}`;
    default:
      return `${delivery.forwarder}: ${delivery.state}`;
  }
}

function hostSideText(row: ForwarderRow, now: number): string {
  if (row.lastReadAt === undefined) return "-";
  const read = `read ${age(row.lastReadAt, now)} ago`;
  if (row.lastRestore === undefined) return read;
  return `${read}; lost and restored ${row.lastRestore.count} ${
    age(row.lastRestore.at, now)
  } ago`;
}

/**
 * The `ports` table: one line per binding.
 *
 * @param rows The rows from the control API.
 * @param now Wall-clock ms, for ages.
 */
export function formatPorts(rows: readonly PortRow[], now: number): string {
  if (rows.length === 0) return "no ports tracked\n";
  return table(
    ["PROTO", "ADDRESS", "OWNERS", "SINCE", "FORWARDING"],
    rows.map((row) => [
      row.protocol,
      row.address,
      row.owners.map((o) => `${o.source}:${o.name}`).join(", "),
      age(row.since, now),
      row.deliveries.length === 0
        ? "not forwarded (logged only or routed nowhere in this mode)"
        : row.deliveries.map((d) => deliveryText(d, now)).join("; "),
    ]),
  );
}

/**
 * The `status` report.
 *
 * @param status The answer from the control API.
 * @param now Wall-clock ms, for ages.
 */
export function formatStatus(status: AgentStatus, now: number): string {
  const head = [
    `guest-agent ${status.version}, ${status.mode} mode, pid ${status.pid}, up ${
      age(now - status.uptimeSeconds * 1000, now)
    }, ${status.bindings} bindings`,
    "",
  ].join("\n");
  const sources = table(
    ["SOURCE", "STATE", "BINDINGS", "LAST EVENT", "RESTARTS", "DETAIL"],
    status.sources.map((s) => [
      s.name,
      s.state ?? s.worker,
      String(s.bindings),
      s.lastEventAt === undefined ? "-" : `${age(s.lastEventAt, now)} ago`,
      String(s.restarts),
      [
        s.reason ?? s.lastError ?? "",
        ...Object.entries(s.counters ?? {}).map(([name, n]) => `${name}: ${n}`),
      ].filter(Boolean).join("; "),
    ]),
  );
  const forwarders = table(
    [
      "FORWARDER",
      "HEALTH",
      "FORWARDED",
      "BACKLOG",
      "RETRYING",
      "SKIPPED",
      "HOST SIDE",
    ],
    status.forwarders.map((f) => [
      f.name,
      f.healthy ? "healthy" : f.waiting !== undefined ? "waiting" : "retrying",
      f.logged > 0
        ? `${f.forwarded} (${f.logged} logged only)`
        : String(f.forwarded),
      String(f.backlog),
      String(f.retrying),
      String(f.skipped),
      f.waiting ?? hostSideText(f, now),
    ]),
  );
  return `${head}\n${sources}\n${forwarders}`;
}
