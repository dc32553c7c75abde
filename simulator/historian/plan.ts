/**
 * Planning a query of an extension table (History, the summary views) from its WHERE clause,
 * as the Historian's OLE DB provider does: the ww* options (only as `option = value` joined
 * with AND), the tags named (=, IN, LIKE), and the time bounds read in the query's zone; the
 * cycles of the aggregate modes and the options they read. Anything else about the options is
 * refused with the provider's error (Msg 7320).
 */
import { TdsError } from "../tds/server.ts";
import { SqlTime } from "../tds/types.ts";
import type { SqlValue } from "../tds/types.ts";
import type { Expr } from "../sql/parse.ts";
import { compile, parseSqlTime } from "../sql/run.ts";
import type { Env } from "../sql/run.ts";
import type { TagStore, View } from "./series.ts";
import { zoneOf } from "./zone.ts";
import type { Zone } from "./zone.ts";
import { HISTORY_COLUMNS } from "./columns.ts";

/** What a table's WHERE clause may say: its ww* options, time columns and retrieval modes. */
export interface Shape {
  /** The ww* option columns, lower-cased. */
  options: Set<string>;
  /** The column whose `>`/`>=` bounds the start, and the one whose `<`/`<=` bounds the end. */
  startColumn: string;
  endColumn: string;
  modes: string[];
  defaultMode: string;
}

export const optionsOf = (columns: readonly { name: string }[]) =>
  new Set(columns.filter((c) => c.name.startsWith("ww")).map((c) => c.name.toLowerCase()));

export const HISTORY_SHAPE: Shape = {
  options: optionsOf(HISTORY_COLUMNS),
  startColumn: "DateTime",
  endColumn: "DateTime",
  modes: ["DELTA", "FULL", "CYCLIC", "AVERAGE", "INTEGRAL", "VALUESTATE"],
  defaultMode: "DELTA",
};
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

function mentionsOption(e: Expr, options: Set<string>): string | undefined {
  const m = (x: Expr) => mentionsOption(x, options);
  switch (e.k) {
    case "col":
      return options.has(e.name.toLowerCase()) ? e.name : undefined;
    case "bin":
      return m(e.l) ?? m(e.r);
    case "not":
    case "neg":
    case "isnull":
      return m(e.e);
    case "between":
      return m(e.e) ?? m(e.lo) ?? m(e.hi);
    case "in":
      return m(e.e) ?? e.list.map(m).find(Boolean);
    case "like":
      return m(e.e) ?? m(e.pattern);
    case "call":
      return e.args.map(m).find(Boolean);
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

/** The WHERE clause's terms: ww* options, the tags named, and the bounds on the time columns. */
function readTerms(
  terms: Expr[],
  value: (e: Expr) => SqlValue,
  env: Env,
  ctx: HistoryContext,
  shape: Shape,
): { options: Map<string, SqlValue>; tagList?: TagStore[]; timeTerms: [string, Expr][] } {
  const OPTIONS = shape.options;
  const start = shape.startColumn.toLowerCase();
  const end = shape.endColumn.toLowerCase();
  const bound = (op: string, col: Expr) =>
    ((op === ">" || op === ">=") && isCol(col, start)) ||
    ((op === "<" || op === "<=") && isCol(col, end));
  const options = new Map<string, SqlValue>();
  let tagList: TagStore[] | undefined;
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
    const option = mentionsOption(term, OPTIONS);
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
      const flipped = { "<": ">", "<=": ">=", ">": "<", ">=": "<=" }[term.op]!;
      if (bound(term.op, term.l) && isValue(term.r)) timeTerms.push([term.op, term.r]);
      else if (bound(flipped, term.r) && isValue(term.l)) timeTerms.push([flipped, term.l]);
    } else if (
      term.k === "between" && !term.not && start === end && isCol(term.e, start) &&
      isValue(term.lo) && isValue(term.hi)
    ) {
      timeTerms.push([">=", term.lo], ["<=", term.hi]);
    }
  }
  return { options, tagList, timeTerms };
}

export interface Plan {
  tags: TagStore[];
  from: bigint;
  fromInclusive: boolean;
  to: bigint;
  /** The end as the query gave it (`to` is one tick earlier for `<`), or the server's clock. */
  toBound: bigint;
  options: Map<string, SqlValue>;
  zone: Zone;
  mode: string;
  latest: boolean;
  cycleCount?: number;
  resolution?: number;
}

export function plan(
  where: Expr | undefined,
  env: Env,
  ctx: HistoryContext,
  shape: Shape = HISTORY_SHAPE,
): Plan {
  if (!where) throw providerError("Historian did not receive a WHERE clause from SQL Server.");
  const value = (e: Expr) => compile(e, [], env)([]);
  const { options, tagList, timeTerms } = readTerms(flattenAnd(where), value, env, ctx, shape);
  let from: { t: bigint; inclusive: boolean } | undefined;
  let to: { t: bigint; inclusive: boolean } | undefined;

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
      `The Historian simulator needs a start time: ${shape.startColumn} >= (or >) a value, joined with AND.`,
    );
  }
  const mode = String(options.get("wwretrievalmode") ?? shape.defaultMode).toUpperCase();
  if (!shape.modes.includes(mode)) {
    throw providerError(
      `The Historian simulator does not implement wwRetrievalMode '${mode}' here (${
        shape.modes.join(", ")
      } are).`,
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
    toBound: to ? to.t : view.now,
    options,
    zone,
    mode,
    latest: version === "LATEST",
    cycleCount: int("wwcyclecount"),
    resolution: int("wwresolution"),
  };
}

/**
 * The cycles of an aggregate query over [from, toBound]: `wwResolution` ms each from the start
 * (the last one cut at the end when `partial`, else left out), or `wwCycleCount` equal parts;
 * 100 parts when neither is given. At most 100,000.
 */
export function cycles(p: Plan, partial: boolean): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  const span = p.toBound - p.from;
  if (span <= 0n) return out;
  if (p.resolution && p.resolution > 0) {
    const step = BigInt(p.resolution) * 10_000n;
    for (let s = p.from; s < p.toBound && out.length < 100_000; s += step) {
      if (s + step <= p.toBound) out.push([s, s + step]);
      else if (partial) out.push([s, p.toBound]);
    }
    return out;
  }
  const n = BigInt(Math.min(p.cycleCount && p.cycleCount > 0 ? p.cycleCount : 100, 100_000));
  for (let i = 0n; i < n; i++) out.push([p.from + span * i / n, p.from + span * (i + 1n) / n]);
  return out;
}

/** wwQualityRule: GOOD or EXTENDED (the default, the QualityRule system parameter's 0). */
export function qualityRule(p: Plan): "GOOD" | "EXTENDED" {
  const rule = String(p.options.get("wwqualityrule") ?? "EXTENDED").toUpperCase();
  if (rule !== "GOOD" && rule !== "EXTENDED") {
    throw providerError(
      `The Historian simulator does not implement wwQualityRule '${rule}' (GOOD and EXTENDED are).`,
    );
  }
  return rule;
}

/** wwTimeStampRule: END (the default, the TimeStampRule system parameter's 1) or START. */
export function timeStampRule(p: Plan): "START" | "END" {
  const rule = String(p.options.get("wwtimestamprule") ?? "END").toUpperCase();
  if (rule !== "START" && rule !== "END") {
    throw providerError(`wwTimeStampRule must be START or END, not '${rule}'.`);
  }
  return rule;
}

/**
 * Whether an analog tag interpolates linearly: the query's wwInterpolationType when it names
 * one, else AnalogTag.InterpolationType, whose 254 (system default) is InterpolationTypeReal's
 * linear: the simulator's analog tags are real-valued.
 */
export function linear(p: Plan, tag: TagStore): boolean {
  const asked = String(p.options.get("wwinterpolationtype") ?? "").toUpperCase();
  if (asked === "LINEAR") return true;
  if (asked === "STAIRSTEP") return false;
  if (asked !== "" && asked !== "NONE" && asked !== "SYSTEMDEFAULT") {
    throw providerError(`wwInterpolationType must be STAIRSTEP or LINEAR, not '${asked}'.`);
  }
  if (asked === "SYSTEMDEFAULT") return true;
  return tag.meta.interpolation !== 0;
}

function intersect(current: TagStore[] | undefined, next: TagStore[]): TagStore[] {
  if (!current) return next;
  const keep = new Set(next);
  return current.filter((t) => keep.has(t));
}
