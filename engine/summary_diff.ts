/**
 * What differs between two sets of summaries of the same cycles (the historian's and the
 * stored ones): per row (tag, cycle, and state for StateSummaryHistory), each column whose values
 * disagree, and rows that only one side has.
 *
 * Counts, qualities and times must be equal (times to the 100 ns). Floating-point columns may
 * differ by rounding, and how much depends on the order of the sums, so they agree within a
 * relative `tolerance` (default 1e-9) of the larger magnitude of the two values and of the
 * cycle's own scale, because a result near zero (an average of a signal crossing zero) carries
 * the rounding of the values it was computed from:
 *
 * - First, Last, Minimum, Maximum, Average: the scale is M, the largest |value| of the historian's
 *   row among First, Last, Minimum and Maximum;
 * - StdDev is compared through its square, the variance, with the scale M²: a variance computed
 *   from sums of squares is exact to about M² × 1e-16, its square root near zero is not;
 * - Integral: the scale is M × Integral ÷ Average of the historian's row (M times the covered
 *   seconds over the divisor);
 * - PercentGood and StateTimePercent: 100; the StateTime columns: the cycle's milliseconds.
 */
import { formatTicks } from "./types.ts";
import type { AnalogSummaryRow, StateSummaryRow, Summaries, Ticks } from "./types.ts";

export const DEFAULT_TOLERANCE = 1e-9;

export interface SummaryDifference {
  view: "AnalogSummaryHistory" | "StateSummaryHistory";
  tag: string;
  start: Ticks;
  resolutionMs: number;
  /** The state's text (or number) for StateSummaryHistory rows. */
  state?: string;
  /** The column that differs, or "row" when only one side has the row. */
  column: string;
  historian: string;
  stored: string;
}

type Rule = "exact" | "time" | "value" | "variance" | "integral" | "percent" | "ms";

const ANALOG: [keyof AnalogSummaryRow, Rule][] = [
  ["EndDateTime", "time"],
  ["OPCQuality", "exact"],
  ["PercentGood", "percent"],
  ["First", "value"],
  ["FirstDateTime", "time"],
  ["Last", "value"],
  ["LastDateTime", "time"],
  ["Minimum", "value"],
  ["MinDateTime", "time"],
  ["Maximum", "value"],
  ["MaxDateTime", "time"],
  ["Average", "value"],
  ["StdDev", "variance"],
  ["Integral", "integral"],
  ["ValueCount", "exact"],
];

const STATE: [keyof StateSummaryRow, Rule][] = [
  ["EndDateTime", "time"],
  ["OPCQuality", "exact"],
  ["StateCount", "exact"],
  ["ContainedStateCount", "exact"],
  ["StateTimeMin", "ms"],
  ["StateTimeMax", "ms"],
  ["StateTimeAvg", "ms"],
  ["StateTimeTotal", "ms"],
  ["StateTimeMinContained", "ms"],
  ["StateTimeMaxContained", "ms"],
  ["StateTimeAvgContained", "ms"],
  ["StateTimeTotalContained", "ms"],
  ["StateTimePercent", "percent"],
];

/** A state's identity within a cycle: its number, or its text for text states. */
export const stateOf = (
  r: StateSummaryRow,
) => (r.Value !== null ? String(r.Value) : r.vValue ?? "NULL");

const show = (v: unknown) =>
  v === null || v === undefined ? "NULL" : typeof v === "bigint" ? formatTicks(v) : String(v);

/** The scales of an analog row's floating-point columns (see the module's header). */
function analogScales(h: AnalogSummaryRow): Partial<Record<Rule, number>> {
  const m = Math.max(
    0,
    ...[h.First, h.Last, h.Minimum, h.Maximum].filter((v) => v !== null).map((v) => Math.abs(v!)),
  );
  const weight = h.Integral !== null && h.Average ? Math.abs(h.Integral / h.Average) : 0;
  return { value: m, variance: m * m, integral: m * weight, percent: 100 };
}

function agree(rule: Rule, h: unknown, s: unknown, scale: number, tolerance: number): boolean {
  if (h === null || s === null || h === undefined || s === undefined) return h == s;
  if (rule === "exact" || rule === "time") return h === s;
  let a = h as number;
  let b = s as number;
  if (rule === "variance") {
    a *= a;
    b *= b;
  }
  return Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b), scale);
}

/** Row-by-row, column-by-column differences of two sets of summaries of `resolutionMs` cycles. */
export function compareSummaries(
  historian: Summaries,
  stored: Summaries,
  resolutionMs: number,
  tolerance = DEFAULT_TOLERANCE,
): SummaryDifference[] {
  const out: SummaryDifference[] = [];
  const analogKey = (r: AnalogSummaryRow) => `${r.TagName}\u0000${r.StartDateTime}`;
  diffRows(
    "AnalogSummaryHistory",
    historian.analog,
    stored.analog,
    analogKey,
    (h, s, at) => {
      const scales = analogScales(h);
      for (const [column, rule] of ANALOG) {
        if (!agree(rule, h[column], s[column], scales[rule] ?? 0, tolerance)) {
          out.push({ ...at, column, historian: show(h[column]), stored: show(s[column]) });
        }
      }
    },
    out,
    resolutionMs,
  );
  const stateKey = (r: StateSummaryRow) =>
    `${r.TagName}\u0000${r.StartDateTime}\u0000${stateOf(r)}`;
  diffRows(
    "StateSummaryHistory",
    historian.state,
    stored.state,
    stateKey,
    (h, s, at) => {
      const ms = Number(h.EndDateTime - h.StartDateTime) / 1e4;
      for (const [column, rule] of STATE) {
        const scale = rule === "ms" ? ms : rule === "percent" ? 100 : 0;
        if (!agree(rule, h[column], s[column], scale, tolerance)) {
          out.push({ ...at, column, historian: show(h[column]), stored: show(s[column]) });
        }
      }
    },
    out,
    resolutionMs,
  );
  return out;
}

type Where = Omit<SummaryDifference, "column" | "historian" | "stored">;

/** Pairs rows by key: a row on one side only is a difference of its own; pairs go to `columns`. */
function diffRows<R extends AnalogSummaryRow | StateSummaryRow>(
  view: SummaryDifference["view"],
  historian: readonly R[],
  stored: readonly R[],
  key: (r: R) => string,
  columns: (h: R, s: R, at: Where) => void,
  out: SummaryDifference[],
  resolutionMs: number,
) {
  const where = (r: R): Where => ({
    view,
    tag: r.TagName,
    start: r.StartDateTime,
    resolutionMs,
    ...("vValue" in r ? { state: stateOf(r as StateSummaryRow) } : {}),
  });
  const theirs = new Map<string, R>();
  for (const s of stored) {
    if (theirs.has(key(s))) {
      out.push({ ...where(s), column: "row", historian: "once", stored: "more than once" });
    }
    theirs.set(key(s), s);
  }
  for (const h of historian) {
    const s = theirs.get(key(h));
    theirs.delete(key(h));
    if (s) columns(h, s, where(h));
    else out.push({ ...where(h), column: "row", historian: "present", stored: "missing" });
  }
  for (const s of theirs.values()) {
    out.push({ ...where(s), column: "row", historian: "missing", stored: "present" });
  }
}
