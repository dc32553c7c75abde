/**
 * Planning a History query from its WHERE clause, as the Historian's OLE DB provider does:
 * the ww* options (only as `option = value` joined with AND), the tags named (=, IN, LIKE),
 * and the time bounds read in the query's zone. Anything else about the options is refused
 * with the provider's error (Msg 7320).
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

const OPTIONS = new Set(
  HISTORY_COLUMNS.filter((c) => c.name.startsWith("ww")).map((c) => c.name.toLowerCase()),
);
const MODES = new Set(["DELTA", "FULL", "CYCLIC"]);
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

/** The WHERE clause's terms: ww* options, the tags named, and the comparisons on DateTime. */
function readTerms(
  terms: Expr[],
  value: (e: Expr) => SqlValue,
  env: Env,
  ctx: HistoryContext,
): { options: Map<string, SqlValue>; tagList?: TagStore[]; timeTerms: [string, Expr][] } {
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
  return { options, tagList, timeTerms };
}

export interface Plan {
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

export function plan(where: Expr | undefined, env: Env, ctx: HistoryContext): Plan {
  if (!where) throw providerError("Historian did not receive a WHERE clause from SQL Server.");
  const value = (e: Expr) => compile(e, [], env)([]);
  const { options, tagList, timeTerms } = readTerms(flattenAnd(where), value, env, ctx);
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
