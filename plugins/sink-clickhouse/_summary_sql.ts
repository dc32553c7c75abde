/**
 * The SQL of AVEVA's summary views (docs/summaries.md has the rules it follows): what analog
 * and state statements share (_summary_analog.ts, _summary_states.ts hold the rest). Everything
 * is computed by ClickHouse; these files only write the statements.
 *
 * The finest cycle is computed from the raw points. Each point holds until the tag's next point
 * (or the horizon: all up to it is stored), so a window function pairs every point with the next
 * one; that segment is cut at cycle edges (arrayJoin over the cycles it spans), and each piece
 * carries its length and its values at both ends (a straight line for linear tags, a constant
 * otherwise). A cycle's row is an aggregation of its pieces: integrals in closed form, the
 * standard deviation in a second pass over the pieces around their average, First/Last/Minimum/
 * Maximum from the points inside (the piece crossing the start carries the value in effect).
 * State occurrences are runs of points with one state (a cumulative sum over run starts).
 *
 * Coarser cycles are rolled up from the finer rows: time-weighted sums add up, the spread by the
 * parallel-variance formula, and occurrences that cross a finer edge are chained across finer
 * rows by what each row keeps of them (`_runs`: started before the cycle, goes on after it, ms).
 *
 * Times inside the statements are Int64 ticks (100 ns since 1970); per-tag bounds come from
 * the `__plan` table (rows of the recompute's plan), and values only as typed parameters.
 */
import { q } from "./ddl.ts";

/** What the statements need to know of the spec and the tables. */
export interface SummarySql {
  /** `db`.`table` of the raw readings. */
  raw: string;
  final: boolean;
  /** The raw table's site column, where sites share it. */
  site?: string;
  tag: string;
  time: string;
  value: string;
  text?: string;
  /** The spec's expression for a row's OPC quality code. */
  quality: string;
  extended: boolean;
  /** `db`.`table` of the stored rows. */
  analogData: string;
  stateData: string;
  /** `db`.`table` of the per-tag plans of recomputes (`{plan:String}` names one). */
  plan: string;
}

export const TICKS_PER_SECOND = 10_000_000;

/** Int64 ticks of a DateTime64 expression. */
export const ticks = (expr: string) =>
  `intDiv(toUnixTimestamp64Nano(toDateTime64(${expr}, 7, 'UTC')), 100)`;
/** A DateTime64(7) of Int64 ticks. */
export const time7 = (expr: string) =>
  `toDateTime64(fromUnixTimestamp64Nano(toInt64(${expr}) * 100, 'UTC'), 7, 'UTC')`;

/** `site = {site:String} AND ` where sites share the tables. */
export function siteWhere(s: SummarySql, column = s.site) {
  return column ? `${q(column)} = {site:String} AND ` : "";
}

/**
 * The raw rows a recompute reads: per group of the plan's tags that share a time range
 * (`{gN_from}`..`{gN_to}`), so the primary key narrows each tag to its own range.
 */
export function planWhere(s: SummarySql, groups: number, tagColumn: string, timeColumn: string) {
  const parts = Array.from(
    { length: groups },
    (_, i) =>
      `(${q(tagColumn)} IN (SELECT tag FROM ${s.plan} WHERE id = {plan:String} AND grp = ${i}) ` +
      `AND ${q(timeColumn)} >= {g${i}_from:DateTime64(7, 'UTC')} AND ${q(timeColumn)} <= ` +
      `{g${i}_to:DateTime64(7, 'UTC')})`,
  );
  return parts.length ? `(${parts.join(" OR ")})` : "0";
}

/** Ticks as ClickHouse's DateTime64(7) text, `YYYY-MM-DD hh:mm:ss.fffffff`. */
export function chTicks(t: bigint): string {
  const clamped = t < 0n ? 0n : t;
  const ms = clamped / 10_000n;
  const rest = clamped % 10_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${rest.toString().padStart(4, "0")}`;
}

/** The per-tag bounds of a recompute from the plan table: tag, lo, hi, s0, s1, H, lin, dv. */
const bounds = (s: SummarySql, state: boolean) =>
  `(SELECT tag, lo, hi, s0, s1, h AS H, lin, dv FROM ${s.plan} WHERE id = {plan:String} ` +
  `AND state = ${state ? 1 : 0})`;

/**
 * `SELECT keep…, exprs… FROM (inner)`: one level of a statement. Each level computes its new
 * columns only from the columns of the level below, never from aliases of its own: ClickHouse
 * inlines an alias wherever it is used, and chains of them made planning dominate the run time
 * (50 ms of a 55-ms recompute of one tag, measured).
 */
export function level(keep: string[], exprs: string[], inner: string, tail = ""): string {
  return `SELECT ${[...keep, ...exprs].join(", ")} FROM (${inner})${tail}`;
}

/**
 * The points of the tags in their ranges, each with the next one (`nt` -1 for the last read)
 * and, for states, its run; then every segment cut into pieces at the edges of cycles s0..s1
 * of `rt` ticks. The last point's segment runs to the horizon; a point exactly at it gives a
 * piece of length 0 in its own cycle, so it still counts there.
 */
export function pieces(s: SummarySql, rt: number, where: string, states: boolean): string {
  const text = s.text ? q(s.text) : "NULL";
  const v = `CAST(${q(s.value)}, 'Nullable(Float64)')`;
  const x = `CAST(${text}, 'Nullable(String)')`;
  const quality = `toInt32(ifNull(${s.quality}, 0))`;
  const raw = `SELECT ${q(s.tag)} AS __tag, ${ticks(q(s.time))} AS __t, ${v} AS __v, ` +
    `${x} AS __x, ${quality} AS __q, (${v} IS NOT NULL OR ${x} IS NOT NULL) AND ` +
    `${quality} BETWEEN ${s.extended ? 64 : 192} AND 255 AS __adm ` +
    `FROM ${s.raw}${s.final ? " FINAL" : ""} WHERE ${siteWhere(s)}${where}`;
  const points = `SELECT P.tag AS tag, r.__t AS t, r.__q AS opc, r.__adm AS adm, ` +
    `if(r.__adm, r.__v, NULL) AS v, ` +
    `if(r.__adm, if(r.__v IS NOT NULL, concat('n', toString(r.__v)), concat('s', r.__x)), '') ` +
    `AS key, if(r.__adm AND r.__v IS NULL, r.__x, NULL) AS sx, ` +
    `P.lin AS lin, P.s0 AS s0, P.s1 AS s1, P.H AS H, P.dv AS dv ` +
    `FROM (${raw}) AS r INNER JOIN ${bounds(s, states)} AS P ON P.tag = r.__tag ` +
    `WHERE r.__t >= P.lo AND r.__t <= P.hi`;
  let cols = ["tag", "t", "opc", "adm", "v", "key", "sx", "lin", "s0", "s1", "H", "dv"];
  const next = "WINDOW w AS (PARTITION BY tag ORDER BY t ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING)";
  let sql = level(
    cols,
    [
      "leadInFrame(t, 1, toInt64(-1)) OVER w AS nt",
      "leadInFrame(v) OVER w AS nv",
      ...(states ? ["lagInFrame(key, 1, '') OVER wb AS pkey"] : []),
    ],
    points,
    ` ${next}${
      states ? ", wb AS (PARTITION BY tag ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)" : ""
    }`,
  );
  cols = [...cols, "nt", "nv"];
  if (states) {
    // Runs of one state: a point starts one unless the point before holds the same state.
    sql = level(cols, [
      "sum(toUInt64(adm AND (pkey = '' OR pkey != key))) OVER (PARTITION BY tag ORDER BY t " +
      "ROWS UNBOUNDED PRECEDING) AS run",
    ], sql);
    // A run ends at the point after its last one; open (-1) while that is not known (yet).
    sql = level(
      [...cols, "run"],
      [
        "min(t) OVER r AS run_start",
        "last_value(nt) OVER r AS run_end",
      ],
      sql,
      " WINDOW r AS (PARTITION BY tag, run, adm ORDER BY t ROWS BETWEEN UNBOUNDED " +
        "PRECEDING AND UNBOUNDED FOLLOWING)",
    );
    cols = [...cols, "run", "run_start", "run_end"];
  }
  sql = level(cols, [
    // Up to the cycle holding the segment's end: where that is a cycle's start, a piece of
    // length 0 there still says which point came before it (the row's `_prev_time`).
    `arrayJoin(range(greatest(intDiv(t, ${rt}), s0), least(intDiv(if(nt = -1, H, nt), ${rt}), ` +
    `s1) + 1)) AS k`,
    "if(nt = -1, H, nt) AS b",
    "lin AND nt != -1 AND v IS NOT NULL AND nv IS NOT NULL AS linear",
  ], sql);
  cols = [...cols, "k", "linear"];
  sql = level([...cols, "b"], [
    `greatest(t, k * ${rt}) AS x0`,
    `least(b, (k + 1) * ${rt}) AS x1`,
    `t >= k * ${rt} AS inside`,
  ], sql);
  cols = [...cols, "x0", "x1", "inside"];
  return level(cols, [
    "x1 - x0 AS len",
    "if(linear, v + (nv - v) * (x0 - t) / (nt - t), v) AS y0",
    "if(linear, v + (nv - v) * (x1 - t) / (nt - t), v) AS y1",
  ], sql);
}

/** Column lists of the stored rows (the view shows the AVEVA ones). */
export const ANALOG_COLUMNS = [
  "wwResolution",
  "StartDateTime",
  "EndDateTime",
  "OPCQuality",
  "PercentGood",
  "First",
  "FirstDateTime",
  "Last",
  "LastDateTime",
  "Minimum",
  "MinDateTime",
  "Maximum",
  "MaxDateTime",
  "Average",
  "StdDev",
  "Integral",
  "ValueCount",
  "_covered",
  "_area",
  "_spread",
  "_opcs",
  "_prev_time",
  "_first_time",
] as const;

export const STATE_ARRAYS = [
  "Value",
  "vValue",
  "OPCQuality",
  "StateCount",
  "ContainedStateCount",
  "StateTimeMin",
  "StateTimeMax",
  "StateTimeAvg",
  "StateTimeTotal",
  "StateTimeMinContained",
  "StateTimeMaxContained",
  "StateTimeAvgContained",
  "StateTimeTotalContained",
  "StateTimePercent",
] as const;

export const STATE_COLUMNS = [
  "wwResolution",
  "StartDateTime",
  "EndDateTime",
  ...STATE_ARRAYS,
  "_opcs",
  "_runs",
  "_prev_time",
  "_first_time",
] as const;

export const keyColumns = (s: SummarySql) => [...(s.site ? [s.site] : []), "TagName"];

/**
 * Stored finer rows under the coarse cycles (`rt` ticks) above the finest cycles s0..s1 of the
 * plan's tags (finest cycles of `rt0` ticks), within {r<rt>_from}..{r<rt>_to} (named by the
 * coarse cycle, so several rollups can share one statement).
 */
export function rollupRange(s: SummarySql, state: boolean, rt0: number, rt: number): string {
  const plan = `${s.plan} WHERE id = {plan:String} AND state = ${state ? 1 : 0}`;
  return `(TagName, intDiv(${ticks("StartDateTime")}, ${rt})) IN (SELECT tag, ` +
    `arrayJoin(range(intDiv(s0 * ${rt0}, ${rt}), intDiv(s1 * ${rt0}, ${rt}) + 1)) FROM ${plan}) ` +
    `AND TagName IN (SELECT tag FROM ${plan}) ` +
    `AND StartDateTime >= {r${rt}_from:DateTime64(7, 'UTC')} AND StartDateTime < ` +
    `{r${rt}_to:DateTime64(7, 'UTC')}`;
}

/** The smaller of two nullable values (NULL only when both are). */
export const least = (a: string, b: string) =>
  `if(${a} IS NULL, ${b}, if(${b} IS NULL, ${a}, least(${a}, ${b})))`;
export const greatest = (a: string, b: string) =>
  `if(${a} IS NULL, ${b}, if(${b} IS NULL, ${a}, greatest(${a}, ${b})))`;

/** One INSERT of several `INSERT INTO t (…) SELECT …` statements into the same table and columns. */
export function unionInserts(statements: string[]): string {
  const head = /^INSERT INTO \S+ \([^)]*\) /;
  return statements.map((sql, i) => (i === 0 ? sql : sql.replace(head, ""))).join(" UNION ALL ");
}
