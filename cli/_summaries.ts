/**
 * How `verify --summaries` prints its report: one line per stored value that differs from the
 * historian's (tag, resolution, cycle start, state, column, both values), then a summary line.
 */
import { formatTicks } from "../engine/types.ts";
import type { SummaryReport } from "../engine/verify_summaries.ts";

/** 60000 → "1m", 3600000 → "1h", 86400000 → "1d". */
export function resolutionLabel(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms}ms`;
}

const time = (t: bigint) => formatTicks(t).replace(/\.0+Z$/, "Z");

export function printSummaries(report: SummaryReport) {
  if (report.differ.length > 0) {
    const rows = report.differ.map((d) => [
      d.tag,
      resolutionLabel(d.resolutionMs),
      time(d.start),
      d.state ?? "",
      d.column,
      d.historian,
      d.stored,
    ]);
    const head = ["tag", "resolution", "cycle", "state", "column", "historian", "stored"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
    console.log(line(head));
    for (const r of rows) console.log(line(r));
  }
  const compared = [...report.compared].sort(([a], [b]) => a - b)
    .map(([ms, n]) => `${n} at ${resolutionLabel(ms)}`).join(", ");
  console.log(
    `verify --summaries: ${report.tags} tags, ${compared || "no"} cycles compared in ${
      report.seconds.toFixed(1)
    } s: ${report.differ.length} differ (floating-point values within a relative ${report.tolerance})`,
  );
}
