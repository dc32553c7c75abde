/**
 * The History extension table: the 33 columns, the ww* options read from the WHERE clause,
 * and the Delta, Full and Cyclic retrieval modes with the semantics of the reference
 * (shared/reference/historian.md §2–§5); the aggregate modes Average, Integral and ValueState
 * are aggregate.ts:
 *
 * - `DateTime >= @start` adds an initial-value row at @start: the last stored point before it,
 *   re-stamped, Quality 133, original QualityDetail and OPCQuality; or a NULL row with
 *   Quality 1, QualityDetail 65536, OPCQuality 0 when nothing came before. `>` adds none;
 *   `<=` includes a point on the end time, `<` does not;
 * - Delta drops a point whose value and QualityDetail equal the previous row of the tag;
 *   `wwCycleCount = N` caps the rows returned in total;
 * - Cyclic returns, per tag, the last value at or before each cycle boundary (stair-step);
 *   100 cycles by default, `wwResolution` in ms, both 0 → 100,000;
 * - times are server-local (daylight saving and the repeated autumn hour included) unless
 *   `wwTimeZone` names a zone; bounds are read in the same zone;
 * - `wwVersion` LATEST (default) applies revisions (QualityDetail 202), ORIGINAL does not;
 * - rows come ordered by DateTime, then by the order the tags were listed.
 * A ww* option given through IN, OR or NOT, or twice, is refused; so is a query without WHERE.
 */
import { SqlTime } from "../tds/types.ts";
import type { SqlValue } from "../tds/types.ts";
import type { Table } from "../sql/run.ts";
import type { Point, TagStore, View } from "./series.ts";
import { HISTORY_COLUMNS } from "./columns.ts";
import { plan } from "./plan.ts";
import type { HistoryContext, Plan } from "./plan.ts";
import { aggregateRows, stateCalc } from "./aggregate.ts";

export type { HistoryContext } from "./plan.ts";
export { C, HISTORY_COLUMNS } from "./columns.ts";

const INITIAL = 133;
const AGGREGATES = new Set(["AVERAGE", "INTEGRAL", "VALUESTATE"]);

/** A row of History before it becomes columns: its time, its point, its tag's place in the list. */
export interface Out {
  t: bigint;
  p: Point;
  quality: number;
  order: number;
  /** Aggregate modes: the cycle's start (StartDateTime), StateTime, PercentGood, interpolation. */
  start?: bigint;
  stateTime?: number | null;
  percentGood?: number;
  interpolation?: string;
}

/** Min-heap by (time, tag order): rows of many tags in DateTime order, ties in listing order. */
class Merge {
  #heap: { out: Out; it: Iterator<Out> }[] = [];
  add(it: Iterator<Out>) {
    const r = it.next();
    if (!r.done) this.#push({ out: r.value, it });
  }
  #less(a: Out, b: Out) {
    return a.t < b.t || (a.t === b.t && a.order < b.order);
  }
  #push(x: { out: Out; it: Iterator<Out> }) {
    const h = this.#heap;
    h.push(x);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i]!.out, h[parent]!.out)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }
  *drain(): Generator<Out> {
    const h = this.#heap;
    while (h.length > 0) {
      const top = h[0]!;
      yield top.out;
      const r = top.it.next();
      if (!r.done) top.out = r.value;
      else {
        const last = h.pop()!;
        if (h.length === 0) return;
        h[0] = last;
      }
      for (let i = 0;;) {
        const l = 2 * i + 1;
        const rr = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!.out, h[m]!.out)) m = l;
        if (rr < h.length && this.#less(h[rr]!.out, h[m]!.out)) m = rr;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
  }
}

function* rawRows(
  tag: TagStore,
  order: number,
  p: Plan,
  view: View,
  delta: boolean,
): Generator<Out> {
  let last: Point | undefined;
  const emit = (out: Out): Out | undefined => {
    if (
      delta && last && last.value === out.p.value && last.text === out.p.text &&
      last.qd === out.p.qd
    ) return undefined;
    last = out.p;
    return out;
  };
  if (p.fromInclusive) {
    const before = p.from > view.now ? undefined : tag.lastAtOrBefore(p.from, view);
    if (!before) {
      const nul = emit({
        t: p.from,
        p: { t: p.from, value: null, text: null, quality: 1, qd: 65536, opc: 0 },
        quality: 1,
        order,
      });
      if (nul) yield nul;
    } else if (before.t < p.from) {
      const init = emit({ t: p.from, p: before, quality: INITIAL, order });
      if (init) yield init;
    }
  }
  for (const point of tag.range(p.from, p.fromInclusive, p.to, view)) {
    const out = emit({ t: point.t, p: point, quality: point.quality, order });
    if (out) yield out;
  }
}

function* cyclicRows(p: Plan, view: View): Generator<Out> {
  const boundaries: bigint[] = [];
  const span = p.to - p.from;
  if (p.resolution && p.resolution > 0) {
    const step = BigInt(p.resolution) * 10_000n;
    for (let b = p.from; b <= p.to && boundaries.length < 100_000; b += step) boundaries.push(b);
  } else {
    const n = p.cycleCount === 0 && (p.resolution ?? 0) === 0 ? 100_000 : p.cycleCount ?? 100;
    if (n === 1 || span <= 0n) boundaries.push(p.from);
    else for (let i = 0; i < n; i++) boundaries.push(p.from + span * BigInt(i) / BigInt(n - 1));
  }
  for (const b of boundaries) {
    for (const [order, tag] of p.tags.entries()) {
      const point = b > view.now ? undefined : tag.lastAtOrBefore(b, view);
      yield point ? { t: b, p: point, quality: point.quality, order } : {
        t: b,
        p: { t: b, value: null, text: null, quality: 1, qd: 65536, opc: 0 },
        quality: 1,
        order,
      };
    }
  }
}

export function historyTable(ctx: HistoryContext): Table {
  return {
    name: "History",
    columns: HISTORY_COLUMNS,
    *rows(where, env) {
      const p = plan(where, env, ctx);
      const view = ctx.view(p.latest);
      const raw = p.mode === "DELTA" || p.mode === "FULL";
      const cap = raw && p.cycleCount && p.cycleCount > 0 ? p.cycleCount : Infinity;
      let source: Iterable<Out>;
      if (p.mode === "CYCLIC") {
        source = cyclicRows(p, view);
      } else if (AGGREGATES.has(p.mode)) {
        source = aggregateRows(p, view);
      } else {
        const merge = new Merge();
        p.tags.forEach((tag, order) => merge.add(rawRows(tag, order, p, view, p.mode === "DELTA")));
        source = merge.drain();
      }
      const echo = echoValues(p);
      let n = 0;
      for (const out of source) {
        if (n++ >= cap) return;
        const tag = p.tags[out.order]!;
        const local = new SqlTime(p.zone.toLocal(out.t));
        const pt = out.p;
        const vValue = pt.text ?? (pt.value === null ? null : String(pt.value));
        const options = echo.slice(0, 16);
        if (out.interpolation) options[10] = out.interpolation;
        if (out.stateTime !== undefined) options[13] = out.stateTime;
        if (out.percentGood !== undefined) options[14] = out.percentGood;
        yield [
          local,
          tag.meta.name,
          pt.value,
          vValue,
          out.quality,
          pt.qd,
          pt.opc,
          tag.meta.key,
          ...options,
          out.start === undefined ? local : new SqlTime(p.zone.toLocal(out.start)),
          ...echo.slice(16),
        ];
      }
    },
  };
}

const upper = (v: SqlValue) => (typeof v === "string" ? v.toUpperCase() : v);

/** The option columns a row echoes: what the query set, or the Historian's defaults. */
function echoValues(p: Plan): SqlValue[] {
  const o = (key: string, fallback: SqlValue) => p.options.get(key) ?? fallback;
  const cycleCount = p.mode === "CYCLIC" ? p.cycleCount ?? 100 : p.cycleCount ?? 0;
  return [
    o("wwrowcount", cycleCount), // wwRowCount
    o("wwresolution", 0), // wwResolution
    o("wwedgedetection", "NONE"), // wwEdgeDetection
    p.mode, // wwRetrievalMode
    o("wwtimedeadband", 0), // wwTimeDeadband
    o("wwvaluedeadband", 0), // wwValueDeadband
    p.zone.name, // wwTimeZone
    p.latest ? "LATEST" : "ORIGINAL", // wwVersion
    cycleCount, // wwCycleCount
    upper(o("wwtimestamprule", "END")), // wwTimeStampRule
    upper(o("wwinterpolationtype", "STAIRSTEP")), // wwInterpolationType
    upper(o("wwqualityrule", "EXTENDED")), // wwQualityRule
    p.mode === "VALUESTATE" ? stateCalc(p) : o("wwstatecalc", "NONE"), // wwStateCalc
    null, // StateTime
    100, // PercentGood
    o("wwparameters", null), // wwParameters
    // StartDateTime is the row's own time for these modes (inserted by the caller)
    null, // SourceTag
    null, // SourceServer
    o("wwfilter", "NoFilter"), // wwFilter
    o("wwvalueselector", "AUTO"), // wwValueSelector
    o("wwmaxstates", 10), // wwMaxStates
    o("wwoption", null), // wwOption
    o("wwexpression", null), // wwExpression
    o("wwunit", null), // wwUnit
  ];
}
