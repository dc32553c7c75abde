/**
 * History's aggregate retrieval modes, one row per tag and cycle (per state for ValueState), as
 * AVEVA documents them (shared/reference/historian.md §3.3; the Average, Integral and ValueState
 * pages it cites):
 *
 * - cycles: `wwResolution` ms from the start (the last may be partial) or `wwCycleCount` equal
 *   parts of [start, end] (100 when neither is given);
 * - `wwTimeStampRule` END (the default) stamps a row with its cycle's end and adds a row at the
 *   start time for the "phantom" cycle just before it; START stamps rows with their cycle's
 *   start; StartDateTime is always the cycle's start;
 * - AVERAGE: the time-weighted average (Value), PercentGood and OPCQuality of the cycle;
 *   INTEGRAL: ∫v dt ÷ the unit's IntegralDivisor; both for analog tags, other tags get
 *   Cyclic's value at the row's time ("normal cyclic results");
 * - VALUESTATE: per state the tag was in during the cycle, StateTime by `wwStateCalc` (TOTAL by
 *   default; milliseconds, or percent for PERCENT/PERCENTCONTAINED); NULL is a state of its
 *   own; discrete and string tags only ("for other types of tags, no rows are returned");
 * - `wwQualityRule` GOOD or EXTENDED, `wwInterpolationType` overrides the tag's.
 * The computation itself is summary.ts.
 */
import { TdsError } from "../tds/server.ts";
import type { Out } from "./history.ts";
import type { Plan } from "./plan.ts";
import { cycles, linear, qualityRule, timeStampRule } from "./plan.ts";
import type { Point, TagStore, View } from "./series.ts";
import { analogSummary, occurrences, pointsFor, stateSummaries } from "./summary.ts";
import type { StateSummary } from "./summary.ts";

const STATE_CALC: Record<string, (s: StateSummary) => number | null> = {
  MINIMUM: (s) => s.timeMin,
  MAXIMUM: (s) => s.timeMax,
  AVERAGE: (s) => s.timeAvg,
  TOTAL: (s) => s.timeTotal,
  PERCENT: (s) => s.timePercent,
  MINCONTAINED: (s) => s.timeMinContained,
  MAXCONTAINED: (s) => s.timeMaxContained,
  AVGCONTAINED: (s) => s.timeAvgContained,
  TOTALCONTAINED: (s) => s.timeTotalContained,
  PERCENTCONTAINED: (s) => s.timePercentContained,
};
const CALC_NAMES: Record<string, string> = { MIN: "MINIMUM", MAX: "MAXIMUM", AVG: "AVERAGE" };

/** The state calculation a ValueState query asks for (`wwStateCalc`), by its canonical name. */
export function stateCalc(p: Plan): string {
  const asked = String(p.options.get("wwstatecalc") ?? "TOTAL").toUpperCase();
  const calc = CALC_NAMES[asked] ?? asked;
  if (!STATE_CALC[calc]) {
    throw new TdsError(
      7320,
      `Cannot execute the query against OLE DB provider "INSQL" for linked server "INSQL". wwStateCalc must be one of ${
        Object.keys(STATE_CALC).join(", ")
      }, not '${asked}'.`,
      16,
    );
  }
  return calc;
}

/** Quality, QualityDetail from a computed OPCQuality: good, doubtful (64) or bad (0). */
const qualities = (opc: number): [number, number] =>
  opc >= 192 ? [0, 192] : opc >= 64 ? [16, 64] : [1, 0];

/** The rows of an AVERAGE, INTEGRAL or VALUESTATE query, in time order, tags in listing order. */
export function* aggregateRows(p: Plan, view: View): Generator<Out> {
  const rule = qualityRule(p);
  const stamp = timeStampRule(p);
  const calc = p.mode === "VALUESTATE" ? stateCalc(p) : "";
  const list = cycles(p, true);
  if (list.length === 0) return;
  if (stamp === "END") {
    const [s, e] = list[0]!;
    list.unshift([s - (e - s), s]);
  }
  const first = list[0]![0];
  const last = list.at(-1)![1];
  const limit = view.now;
  const perTag = p.tags.map((tag) => {
    const points = pointsFor(tag, first, last, view);
    return { tag, points, occ: p.mode === "VALUESTATE" ? occurrences(points, rule, true) : [] };
  });
  for (const [start, end] of list) {
    const t = stamp === "START" ? start : end;
    for (const [order, { tag, points, occ }] of perTag.entries()) {
      const kind = tag.meta.kind;
      if (p.mode === "VALUESTATE") {
        if (kind === "analog") continue;
        for (const s of stateSummaries(occ, start, end, limit)) {
          const [quality, qd] = qualities(s.opcQuality);
          yield {
            t,
            order,
            quality,
            start,
            stateTime: STATE_CALC[calc]!(s),
            p: { t, value: s.value, text: s.text, quality, qd, opc: s.opcQuality },
          };
        }
        continue;
      }
      if (kind !== "analog") {
        yield cyclicValue(tag, t, order, view);
        continue;
      }
      const isLinear = linear(p, tag);
      const sum = analogSummary(points, start, end, {
        linear: isLinear,
        divisor: tag.meta.integralDivisor,
        rule,
        limit,
      });
      const value = p.mode === "AVERAGE" ? sum.average : sum.integral;
      const [quality, qd] = qualities(sum.opcQuality);
      yield {
        t,
        order,
        quality,
        start,
        percentGood: sum.percentGood,
        interpolation: isLinear ? "LINEAR" : "STAIRSTEP",
        p: { t, value, text: null, quality, qd, opc: sum.opcQuality },
      };
    }
  }
}

/** Cyclic's row for a tag the mode does not apply to: the last stored point at or before `t`. */
function cyclicValue(tag: TagStore, t: bigint, order: number, view: View): Out {
  const point: Point | undefined = t > view.now ? undefined : tag.lastAtOrBefore(t, view);
  return point
    ? { t, p: point, quality: point.quality, order }
    : { t, p: { t, value: null, text: null, quality: 1, qd: 65536, opc: 0 }, quality: 1, order };
}
