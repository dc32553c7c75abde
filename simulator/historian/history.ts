/**
 * The History extension table: the 33 columns, the ww* options read from the WHERE clause,
 * and the Delta, Full and Cyclic retrieval modes with the semantics of the reference
 * (shared/reference/historian.md §2–§5):
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
import { TdsError } from "../tds/server.ts";
import { SqlTime } from "../tds/types.ts";
import type { Column, SqlValue } from "../tds/types.ts";
import type { Expr } from "../sql/parse.ts";
import { compile, parseSqlTime } from "../sql/run.ts";
import type { Env, Table } from "../sql/run.ts";
import type { Point, TagStore, View } from "./series.ts";
import { zoneOf } from "./zone.ts";
import type { Zone } from "./zone.ts";

/** A result column: name, SQL type, and for nvarchar the length in characters. */
export const C = (name: string, type: Column["type"], length?: number): Column => ({
  name,
  type,
  length,
});

export const HISTORY_COLUMNS: Column[] = [
  C("DateTime", "datetime2"),
  C("TagName", "nvarchar", 256),
  C("Value", "float"),
  C("vValue", "nvarchar", 4000),
  C("Quality", "tinyint"),
  C("QualityDetail", "int"),
  C("OPCQuality", "int"),
  C("wwTagKey", "int"),
  C("wwRowCount", "int"),
  C("wwResolution", "int"),
  C("wwEdgeDetection", "nvarchar", 16),
  C("wwRetrievalMode", "nvarchar", 16),
  C("wwTimeDeadband", "int"),
  C("wwValueDeadband", "float"),
  C("wwTimeZone", "nvarchar", 50),
  C("wwVersion", "nvarchar", 30),
  C("wwCycleCount", "int"),
  C("wwTimeStampRule", "nvarchar", 20),
  C("wwInterpolationType", "nvarchar", 20),
  C("wwQualityRule", "nvarchar", 20),
  C("wwStateCalc", "nvarchar", 20),
  C("StateTime", "float"),
  C("PercentGood", "float"),
  C("wwParameters", "nvarchar", 128),
  C("StartDateTime", "datetime2"),
  C("SourceTag", "nvarchar", 256),
  C("SourceServer", "nvarchar", 256),
  C("wwFilter", "nvarchar", 512),
  C("wwValueSelector", "nvarchar", 20),
  C("wwMaxStates", "int"),
  C("wwOption", "nvarchar", 512),
  C("wwExpression", "nvarchar", 512),
  C("wwUnit", "nvarchar", 32),
];

const OPTIONS = new Set(
  HISTORY_COLUMNS.filter((c) => c.name.startsWith("ww")).map((c) => c.name.toLowerCase()),
);
const MODES = new Set(["DELTA", "FULL", "CYCLIC"]);
const INITIAL = 133;

export interface HistoryContext {
  /** The tags in key order, by lower-cased name too. */
  tags: TagStore[];
  byName: Map<string, TagStore>;
  serverZone: Zone;
  view(latest: boolean): View;
}

function flattenAnd(e: Expr | undefined, out: Expr[] = []): Expr[] {
  if (!e) return out;
  if (e.k === "bin" && e.op === "AND") {
    flattenAnd(e.l, out);
    flattenAnd(e.r, out);
  } else out.push(e);
  return out;
}

function mentionsOption(e: Expr): string | undefined {
  switch (e.k) {
    case "col":
      return OPTIONS.has(e.name.toLowerCase()) ? e.name : undefined;
    case "bin":
      return mentionsOption(e.l) ?? mentionsOption(e.r);
    case "not":
    case "neg":
    case "isnull":
      return mentionsOption(e.e);
    case "between":
      return mentionsOption(e.e) ?? mentionsOption(e.lo) ?? mentionsOption(e.hi);
    case "in":
      return mentionsOption(e.e) ?? e.list.map(mentionsOption).find(Boolean);
    case "like":
      return mentionsOption(e.e) ?? mentionsOption(e.pattern);
    case "call":
      return e.args.map(mentionsOption).find(Boolean);
    default:
      return undefined;
  }
}

const isCol = (e: Expr, name: string) => e.k === "col" && e.name.toLowerCase() === name;
const isValue = (e: Expr) => e.k === "lit" || e.k === "param" || (e.k === "neg" && e.e.k === "lit");

function providerError(message: string): TdsError {
  return new TdsError(
    7320,
    `Cannot execute the query against OLE DB provider "INSQL" for linked server "INSQL". ${message}`,
    16,
  );
}

interface Plan {
  tags: TagStore[];
  from: bigint;
  fromInclusive: boolean;
  to: bigint;
  options: Map<string, SqlValue>;
  zone: Zone;
  mode: string;
  latest: boolean;
  cycleCount?: number;
  resolution?: number;
}

function plan(where: Expr | undefined, env: Env, ctx: HistoryContext): Plan {
  if (!where) throw providerError("Historian did not receive a WHERE clause from SQL Server.");
  const terms = flattenAnd(where);
  const value = (e: Expr) => compile(e, [], env)([]);
  const options = new Map<string, SqlValue>();
  let tagList: TagStore[] | undefined;
  let from: { t: bigint; inclusive: boolean } | undefined;
  let to: { t: bigint; inclusive: boolean } | undefined;
  const timeTerms: [string, Expr][] = [];

  for (const term of terms) {
    if (term.k === "bin" && term.op === "=") {
      const [col, val] = isValue(term.r) ? [term.l, term.r] : [term.r, term.l];
      if (col.k === "col" && OPTIONS.has(col.name.toLowerCase()) && isValue(val)) {
        const key = col.name.toLowerCase();
        const v = value(val);
        if (
          options.has(key) && String(options.get(key)).toLowerCase() !== String(v).toLowerCase()
        ) {
          throw providerError(`Historian accepts one value for ${col.name}; it was given twice.`);
        }
        options.set(key, v);
        continue;
      }
    }
    const option = mentionsOption(term);
    if (option) {
      throw providerError(
        `Historian accepts ${option} only as ${option} = <value> joined with AND, not with IN, OR, NOT or other operators.`,
      );
    }
    // TagName = v, TagName IN (...), TagName LIKE p narrow the tags read.
    if (
      term.k === "bin" && term.op === "=" && (isCol(term.l, "tagname") || isCol(term.r, "tagname"))
    ) {
      const val = isCol(term.l, "tagname") ? term.r : term.l;
      if (isValue(val)) {
        const found = ctx.byName.get(String(value(val)).toLowerCase().trimEnd());
        tagList = intersect(tagList, found ? [found] : []);
      }
    } else if (
      term.k === "in" && !term.not && isCol(term.e, "tagname") && term.list.every(isValue)
    ) {
      const seen = new Set<TagStore>();
      const listed: TagStore[] = [];
      for (const v of term.list) {
        const found = ctx.byName.get(String(value(v)).toLowerCase().trimEnd());
        if (found && !seen.has(found)) {
          seen.add(found);
          listed.push(found);
        }
      }
      tagList = intersect(tagList, listed);
    } else if (
      term.k === "like" && !term.not && isCol(term.e, "tagname") && isValue(term.pattern)
    ) {
      const test = compile(term, [{ name: "TagName", type: "nvarchar" }], env);
      tagList = intersect(tagList, ctx.tags.filter((t) => test([t.meta.name]) === true));
    } else if (term.k === "bin" && ["<", "<=", ">", ">="].includes(term.op)) {
      if (isCol(term.l, "datetime") && isValue(term.r)) timeTerms.push([term.op, term.r]);
      else if (isCol(term.r, "datetime") && isValue(term.l)) {
        timeTerms.push([{ "<": ">", "<=": ">=", ">": "<", ">=": "<=" }[term.op]!, term.l]);
      }
    } else if (
      term.k === "between" && !term.not && isCol(term.e, "datetime") && isValue(term.lo) &&
      isValue(term.hi)
    ) {
      timeTerms.push([">=", term.lo], ["<=", term.hi]);
    }
  }

  const zoneName = options.get("wwtimezone");
  const zone = zoneName === undefined || zoneName === null
    ? ctx.serverZone
    : zoneOf(String(zoneName));
  for (const [op, e] of timeTerms) {
    const v = value(e);
    if (v === null) continue;
    const local = v instanceof SqlTime ? v.ticks : parseSqlTime(String(v)).ticks;
    const t = zone.toUtc(local);
    if (op === ">" || op === ">=") {
      const inclusive = op === ">=";
      if (!from || t > from.t || (t === from.t && !inclusive)) from = { t, inclusive };
    } else {
      const inclusive = op === "<=";
      if (!to || t < to.t || (t === to.t && !inclusive)) to = { t, inclusive };
    }
  }
  if (!from) {
    throw providerError(
      "The Historian simulator needs a start time: DateTime >= (or >) a value, joined with AND.",
    );
  }
  const mode = String(options.get("wwretrievalmode") ?? "DELTA").toUpperCase();
  if (!MODES.has(mode)) {
    throw providerError(
      `The Historian simulator does not implement wwRetrievalMode '${mode}' (DELTA, FULL and CYCLIC are).`,
    );
  }
  const version = String(options.get("wwversion") ?? "LATEST").toUpperCase();
  if (version !== "LATEST" && version !== "ORIGINAL") {
    throw providerError(`wwVersion must be ORIGINAL or LATEST, not '${version}'.`);
  }
  const int = (key: string) => {
    const v = options.get(key);
    return v === undefined || v === null ? undefined : Math.trunc(Number(v));
  };
  const view = ctx.view(version === "LATEST");
  const end = to ? (to.inclusive ? to.t : to.t - 1n) : view.now;
  return {
    tags: tagList ?? ctx.tags,
    from: from.t,
    fromInclusive: from.inclusive,
    to: end,
    options,
    zone,
    mode,
    latest: version === "LATEST",
    cycleCount: int("wwcyclecount"),
    resolution: int("wwresolution"),
  };
}

function intersect(current: TagStore[] | undefined, next: TagStore[]): TagStore[] {
  if (!current) return next;
  const keep = new Set(next);
  return current.filter((t) => keep.has(t));
}

interface Out {
  t: bigint;
  p: Point;
  quality: number;
  order: number;
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
      const cap = p.mode !== "CYCLIC" && p.cycleCount && p.cycleCount > 0 ? p.cycleCount : Infinity;
      let source: Iterable<Out>;
      if (p.mode === "CYCLIC") {
        source = cyclicRows(p, view);
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
        yield [
          local,
          tag.meta.name,
          pt.value,
          vValue,
          out.quality,
          pt.qd,
          pt.opc,
          tag.meta.key,
          ...echo.slice(0, 16),
          local,
          ...echo.slice(16),
        ];
      }
    },
  };
}

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
    o("wwtimestamprule", "END"), // wwTimeStampRule
    o("wwinterpolationtype", "STAIRSTEP"), // wwInterpolationType
    o("wwqualityrule", "EXTENDED"), // wwQualityRule
    o("wwstatecalc", "NONE"), // wwStateCalc
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
