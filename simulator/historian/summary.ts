/**
 * The Historian's summaries of one tag over one cycle, computed plainly from its stored points:
 * what AnalogSummaryHistory, StateSummaryHistory and the Average, Integral and ValueState
 * retrieval modes answer. An implementation of its own (not shared with the store's SQL or the
 * tests' reference), following AVEVA's documented formulas (shared/reference/historian.md §3.3,
 * §3.3a, §4.4) and, where they are silent, the rules of issue 29:
 *
 * - a stored point holds from its time until the tag's next point, or until the server's clock
 *   (`limit`): nothing is known after it;
 * - a point counts when the quality rule admits it: a value, OPCQuality 192–255 (good), or
 *   64–191 (uncertain) under EXTENDED only; anything else (a gap marker, bad, uncertain under
 *   GOOD) holds "no value": that time is not covered;
 * - linear tags interpolate between two admitted points; stair-step tags, and a point followed
 *   by one that is not admitted, hold the earlier value;
 * - per cycle [start, end): Average = ∫v dt ÷ covered seconds, Integral = ∫v dt ÷ the unit's
 *   IntegralDivisor, StdDev the time-weighted population deviation over the covered time,
 *   PercentGood = covered ÷ cycle × 100; First/Last/Minimum/Maximum/ValueCount over the admitted
 *   points inside the cycle (First and Last fall back to the point in effect at the start);
 * - a state occurrence is a run of admitted points with one state (a repeat continues it; a
 *   change, a gap marker or a point the rule does not admit ends it); one still running at the
 *   limit has not ended, so no cycle contains it.
 */
import { firstIndex } from "./series.ts";
import type { Point, TagStore, View } from "./series.ts";

export type QualityRule = "GOOD" | "EXTENDED";

/** Whether a point's value counts under the rule (see the module's header). */
export function admitted(p: Point, rule: QualityRule): boolean {
  if (p.value === null && p.text === null) return false;
  if (p.opc >= 192 && p.opc <= 255) return true;
  return rule === "EXTENDED" && p.opc >= 64 && p.opc < 192;
}

/**
 * The points that decide cycles in [from, to): the last one before `from` (in effect at it),
 * those inside, and the first at or after `to` (a linear segment runs toward it).
 */
export function pointsFor(tag: TagStore, from: bigint, to: bigint, view: View): Point[] {
  const out: Point[] = [];
  const before = tag.lastAtOrBefore(from - 1n, view);
  if (before) out.push(before);
  for (const p of tag.range(from, true, view.now, view)) {
    out.push(p);
    if (p.t >= to) break;
  }
  return out;
}

const seconds = (ticks: bigint) => Number(ticks) / 1e7;

export interface AnalogSummary {
  start: bigint;
  end: bigint;
  opcQuality: number;
  percentGood: number;
  first: number | null;
  firstTime: bigint | null;
  last: number | null;
  lastTime: bigint | null;
  minimum: number | null;
  minTime: bigint | null;
  maximum: number | null;
  maxTime: bigint | null;
  average: number | null;
  stdDev: number | null;
  integral: number | null;
  valueCount: number;
}

export interface AnalogOptions {
  linear: boolean;
  divisor: number;
  rule: QualityRule;
  /** The server's clock: nothing is known after it. */
  limit: bigint;
}

/** A piece of the signal inside a cycle: its length in seconds, its values at both ends. */
interface Piece {
  dt: number;
  a: number;
  b: number;
}

/** The summary of the cycle [start, end) from `points` (ascending, see pointsFor). */
export function analogSummary(
  points: readonly Point[],
  start: bigint,
  end: bigint,
  o: AnalogOptions,
): AnalogSummary {
  const ok = (p: Point | undefined): p is Point => p !== undefined && admitted(p, o.rule);
  const inEffect = firstIndex(points, start, false) - 1; // the last point at or before start
  const pieces: Piece[] = [];
  let covered = 0n;
  let allGood = true;
  const opcs = new Set<number>();
  for (let i = Math.max(inEffect, 0); i < points.length && points[i]!.t < end; i++) {
    const p = points[i]!;
    const next = points[i + 1];
    const to = next && next.t < o.limit ? next.t : o.limit;
    const from = p.t > start ? p.t : start;
    const until = to < end ? to : end;
    if (until <= from) continue;
    if (!ok(p)) {
      allGood = false;
      continue;
    }
    opcs.add(p.opc);
    if (p.opc < 192) allGood = false;
    const slope = o.linear && ok(next) && next.t <= o.limit
      ? (next.value! - p.value!) / seconds(next.t - p.t)
      : 0;
    const at = (t: bigint) => p.value! + slope * seconds(t - p.t);
    pieces.push({ dt: seconds(until - from), a: at(from), b: at(until) });
    covered += until - from;
  }
  const cycle = end - start;
  let area = 0;
  for (const x of pieces) area += (x.a + x.b) / 2 * x.dt;
  const coveredS = seconds(covered);
  const average = covered > 0n ? area / coveredS : null;
  let spread = 0;
  if (average !== null) {
    for (const x of pieces) {
      const da = x.a - average;
      const db = x.b - average;
      spread += (da * da + da * db + db * db) / 3 * x.dt;
    }
  }

  const inside = points.slice(firstIndex(points, start, true), firstIndex(points, end, true))
    .filter(ok);
  let min: Point | undefined;
  let max: Point | undefined;
  for (const p of inside) {
    if (!min || p.value! < min.value!) min = p;
    if (!max || p.value! > max.value!) max = p;
  }
  const held = ok(points[inEffect]) ? points[inEffect] : undefined;
  const first = inside[0] ?? held;
  const last = inside.at(-1) ?? held;
  return {
    start,
    end,
    opcQuality: covered === 0n
      ? 0
      : covered === cycle && allGood
      ? (opcs.size === 1 ? [...opcs][0]! : 192)
      : 64,
    percentGood: seconds(covered) / seconds(cycle) * 100,
    first: first?.value ?? null,
    firstTime: first?.t ?? null,
    last: last?.value ?? null,
    lastTime: last?.t ?? null,
    minimum: min?.value ?? null,
    minTime: min?.t ?? null,
    maximum: max?.value ?? null,
    maxTime: max?.t ?? null,
    average,
    stdDev: average === null ? null : Math.sqrt(spread / coveredS),
    integral: covered > 0n ? area / o.divisor : null,
    valueCount: inside.length,
  };
}

/** A run of points in one state: [start, end), `end` undefined while it still runs. */
export interface Occurrence {
  key: string;
  value: number | null;
  text: string | null;
  start: bigint;
  end?: bigint;
  /** The run's points (time and OPCQuality), for the quality of a cycle's row. */
  points: { t: bigint; opc: number }[];
}

/** A state's key: the text of a string tag, the number of a discrete or integer tag. */
const stateKey = (p: Point) =>
  p.text !== null ? `s:${p.text}` : p.value !== null ? `n:${p.value}` : "null";

/**
 * The occurrences the points describe (see pointsFor), in time order. With `nullState` (the
 * ValueState retrieval mode: "NULL values are treated like any other distinct state"), what the
 * rule does not admit is a state of its own, NULL, instead of ending the occurrence.
 */
export function occurrences(
  points: readonly Point[],
  rule: QualityRule,
  nullState = false,
): Occurrence[] {
  const out: Occurrence[] = [];
  let run: Occurrence | undefined;
  for (const raw of points) {
    const p = admitted(raw, rule) || !nullState ? raw : { ...raw, value: null, text: null };
    if (!admitted(raw, rule) && !nullState) {
      if (run) run.end = p.t;
      run = undefined;
      continue;
    }
    if (run && run.key === stateKey(p)) {
      run.points.push({ t: p.t, opc: p.opc });
      continue;
    }
    if (run) run.end = p.t;
    run = {
      key: stateKey(p),
      value: p.text !== null ? null : p.value,
      text: p.text ?? (p.value === null ? null : String(p.value)),
      start: p.t,
      points: [{ t: p.t, opc: p.opc }],
    };
    out.push(run);
  }
  return out;
}

export interface StateSummary {
  start: bigint;
  end: bigint;
  value: number | null;
  text: string | null;
  opcQuality: number;
  stateCount: number;
  containedStateCount: number;
  /** Milliseconds. */
  timeMin: number;
  timeMax: number;
  timeAvg: number;
  timeTotal: number;
  timeMinContained: number | null;
  timeMaxContained: number | null;
  timeAvgContained: number | null;
  timeTotalContained: number;
  /** 0–100 of the cycle. */
  timePercent: number;
  timePercentContained: number;
}

/**
 * Per state that has an occurrence overlapping [start, end), in the order the states first
 * appear in the cycle: counts and times in state (ms). `limit` is the server's clock.
 */
export function stateSummaries(
  occ: readonly Occurrence[],
  start: bigint,
  end: bigint,
  limit: bigint,
): StateSummary[] {
  const byState = new Map<string, { o: Occurrence; inside: number; contained: boolean }[]>();
  // Occurrences follow each other: those starting in the cycle, and the one before them.
  const lo = Math.max(firstStart(occ, start) - 1, 0);
  for (let i = lo; i < occ.length && occ[i]!.start < end; i++) {
    const o = occ[i]!;
    const stop = o.end ?? limit;
    const from = o.start > start ? o.start : start;
    const until = stop < end ? stop : end;
    if (until <= from) continue;
    const contained = o.end !== undefined && o.start >= start && o.end <= end;
    const list = byState.get(o.key) ?? [];
    list.push({ o, inside: Number(until - from) / 1e4, contained });
    byState.set(o.key, list);
  }
  const cycleMs = Number(end - start) / 1e4;
  const out: StateSummary[] = [];
  for (const list of byState.values()) {
    const times = list.map((x) => x.inside);
    const kept = list.filter((x) => x.contained).map((x) => x.inside);
    const total = times.reduce((s, x) => s + x, 0);
    const totalContained = kept.reduce((s, x) => s + x, 0);
    const opcs = new Set(
      list.flatMap(({ o }) => {
        const held = o.points.filter((p) => p.t <= start).at(-1);
        return o.points.filter((p) => p === held || (p.t >= start && p.t < end)).map((p) => p.opc);
      }),
    );
    const { value, text } = list[0]!.o;
    out.push({
      start,
      end,
      value,
      text,
      opcQuality: opcs.size === 1 ? [...opcs][0]! : 64,
      stateCount: list.length,
      containedStateCount: kept.length,
      timeMin: Math.min(...times),
      timeMax: Math.max(...times),
      timeAvg: total / times.length,
      timeTotal: total,
      timeMinContained: kept.length ? Math.min(...kept) : null,
      timeMaxContained: kept.length ? Math.max(...kept) : null,
      timeAvgContained: kept.length ? totalContained / kept.length : null,
      timeTotalContained: totalContained,
      timePercent: total / cycleMs * 100,
      timePercentContained: totalContained / cycleMs * 100,
    });
  }
  return out;
}

/** Index of the first occurrence starting at or after `at`. */
function firstStart(occ: readonly Occurrence[], at: bigint): number {
  let lo = 0;
  let hi = occ.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (occ[mid]!.start < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
