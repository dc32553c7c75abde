/**
 * The SQL of AVEVA's summary views (docs/summaries.md has the rules it follows). Everything is
 * computed by ClickHouse; this file only writes the statements.
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
 * Times inside the statements are Int64 ticks (100 ns since 1970); per-tag bounds arrive as
 * arrays of typed parameters, never as text.
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
function level(keep: string[], exprs: string[], inner: string, tail = ""): string {
  return `SELECT ${[...keep, ...exprs].join(", ")} FROM (${inner})${tail}`;
}

/**
 * The points of the tags in their ranges, each with the next one (`nt` -1 for the last read)
 * and, for states, its run; then every segment cut into pieces at the edges of cycles s0..s1
 * of `rt` ticks. The last point's segment runs to the horizon; a point exactly at it gives a
 * piece of length 0 in its own cycle, so it still counts there.
 */
function pieces(s: SummarySql, rt: number, where: string, states: boolean): string {
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

const keyColumns = (s: SummarySql) => [...(s.site ? [s.site] : []), "TagName"];

/** The OPCQuality of an analog cycle: bad with nothing covered, the one good code when fully. */
const analogQuality = (covered: string, opcs: string, rt: number) =>
  `if(${covered} = 0, 0, if(${covered} = ${rt} AND arrayAll(c -> c >= 192, ${opcs}), ` +
  `if(length(${opcs}) = 1, ${opcs}[1], 192), 64))`;

/** INSERT of the finest analog cycles of the tags in {b_*} from their raw points. */
export function analogFromRaw(s: SummarySql, cycleMs: number, where: string): string {
  const rt = cycleMs * 10_000;
  const keys = keyColumns(s);
  const site = s.site ? "{site:String}, " : "";
  const valued = "v IS NOT NULL";
  const inside = `inside AND ${valued}`;
  const held = "NOT inside AND (len > 0 OR nt = -1)";
  const vt = "(assumeNotNull(v), t)";
  const perCycle = `SELECT tag, k, any(dv) AS dv, sumIf(len, ${valued}) AS cov, ` +
    `groupUniqArrayIf(opc, ${valued} AND len > 0) AS opcs, ` +
    `arraySort(p -> p.1, groupArrayIf((x0, len / ${TICKS_PER_SECOND}, assumeNotNull(y0), ` +
    `assumeNotNull(y1)), ${valued} AND len > 0)) AS ps, countIf(${inside}) AS n, ` +
    `argMinIf(${vt}, t, ${inside}) AS fst, argMaxIf(${vt}, t, ${inside}) AS lst, ` +
    `argMinIf(${vt}, ${vt}, ${inside}) AS mn, ` +
    `argMinIf(${vt}, (-assumeNotNull(v), t), ${inside}) AS mx, ` +
    // The piece from before the start: the point in effect at it, unless the next point sits
    // exactly on the start (a piece of length 0 that only names the point before).
    `anyIf((v, t), ${held}) AS held, countIf(${held}) > 0 AS anyHeld, ` +
    `anyIf(t, NOT inside) AS prev, countIf(NOT inside) > 0 AS anyPrev, ` +
    `minIf(t, inside) AS firstT, countIf(inside) > 0 AS anyInside ` +
    `FROM (${pieces(s, rt, where, false)}) GROUP BY tag, k`;
  const cols = [
    "tag",
    "k",
    "dv",
    "cov",
    "opcs",
    "ps",
    "n",
    "fst",
    "lst",
    "mn",
    "mx",
    "held",
    "prev",
    "firstT",
    "anyInside",
    "anyHeld",
    "anyPrev",
  ];
  const withArea = level(cols, ["arraySum(p -> p.2 * (p.3 + p.4) / 2, ps) AS area"], perCycle);
  const withAvg = level([...cols, "area"], [
    `if(cov > 0, area / (cov / ${TICKS_PER_SECOND}), NULL) AS avg`,
  ], withArea);
  // The spread in a second pass, around the cycle's average.
  const withSpread = level([...cols, "area", "avg"], [
    "arraySum(p -> p.2 * ((p.3 - ifNull(avg, 0)) * (p.3 - ifNull(avg, 0)) + (p.3 - ifNull(avg, 0)) " +
    "* (p.4 - ifNull(avg, 0)) + (p.4 - ifNull(avg, 0)) * (p.4 - ifNull(avg, 0))) / 3, ps) AS spread",
  ], withAvg);
  const heldAt = (part: 1 | 2) =>
    `if(anyHeld AND held.1 IS NOT NULL, ${part === 1 ? "held.1" : time7("held.2")}, NULL)`;
  const select =
    `SELECT ${site}tag, ${cycleMs}, ${time7(`k * ${rt}`)}, ${time7(`(k + 1) * ${rt}`)}, ` +
    `${analogQuality("cov", "opcs", rt)}, cov / ${rt} * 100, ` +
    `if(n > 0, fst.1, ${heldAt(1)}), if(n > 0, ${time7("fst.2")}, ${heldAt(2)}), ` +
    `if(n > 0, lst.1, ${heldAt(1)}), if(n > 0, ${time7("lst.2")}, ${heldAt(2)}), ` +
    `if(n > 0, mn.1, NULL), if(n > 0, ${time7("mn.2")}, NULL), ` +
    `if(n > 0, mx.1, NULL), if(n > 0, ${time7("mx.2")}, NULL), ` +
    `avg, if(cov > 0, sqrt(greatest(spread / (cov / ${TICKS_PER_SECOND}), 0)), NULL), ` +
    `if(cov > 0, area / dv, NULL), n, cov, area, spread, opcs, ` +
    `if(anyPrev, ${time7("prev")}, NULL), if(anyInside, ${time7("firstT")}, NULL), now64(3) ` +
    `FROM (${withSpread})`;
  return `INSERT INTO ${s.analogData} (${
    [...keys, ...ANALOG_COLUMNS, "_computed_at"].map(q).join(", ")
  }) ${select}`;
}

/**
 * INSERT of coarser analog cycles (`cycleMs`) rolled up from the stored finer ones (`fromMs`)
 * of the tags in {r_tag} over their cycles {r_s0}..{r_s1}.
 */
export function analogRollup(
  s: SummarySql,
  finestMs: number,
  fromMs: number,
  cycleMs: number,
): string {
  const rt = cycleMs * 10_000;
  const keys = keyColumns(s);
  const site = s.site ? "{site:String}, " : "";
  const fields = [
    "First",
    "FirstDateTime",
    "Last",
    "LastDateTime",
    "Minimum",
    "MinDateTime",
    "Maximum",
    "MaxDateTime",
    "Average",
    "Integral",
    "ValueCount",
    "_covered",
    "_area",
    "_spread",
    "_opcs",
    "_prev_time",
    "_first_time",
  ];
  const rows = `SELECT TagName AS tag, ${ticks("StartDateTime")} AS st, ` +
    `intDiv(${ticks("StartDateTime")}, ${rt}) AS k, ${fields.join(", ")} ` +
    `FROM ${s.analogData} FINAL WHERE ${siteWhere(s)}wwResolution = ${fromMs} AND ` +
    `${rollupRange(s, false, finestMs * 10_000, rt)}`;
  // The coarse average first (a window over the cycle's rows): the spread adds up around it.
  const withAvg = level(
    ["tag", "st", "k", ...fields],
    [
      `sum(_area) OVER c / (sum(_covered) OVER c / ${TICKS_PER_SECOND}) AS m`,
    ],
    rows,
    " WINDOW c AS (PARTITION BY tag, k)",
  );
  const perCycle = `SELECT tag, k, sum(_covered) AS cov, sum(_area) AS area, ` +
    `if(sum(_covered) > 0, sum(_area) / (sum(_covered) / ${TICKS_PER_SECOND}), NULL) AS avg, ` +
    `sumIf(_spread + _covered / ${TICKS_PER_SECOND} * (assumeNotNull(Average) - m) * ` +
    `(assumeNotNull(Average) - m), _covered > 0) AS spread, ` +
    `groupUniqArrayArray(_opcs) AS opcs, sum(ValueCount) AS n, ` +
    `argMinIf((First, FirstDateTime), st, ValueCount > 0) AS fst, ` +
    `argMaxIf((Last, LastDateTime), st, ValueCount > 0) AS lst, ` +
    `argMin((First, FirstDateTime), st) AS held, ` +
    `argMinIf((Minimum, MinDateTime), (assumeNotNull(Minimum), MinDateTime), ValueCount > 0) AS mn, ` +
    `argMinIf((Maximum, MaxDateTime), (-assumeNotNull(Maximum), MaxDateTime), ValueCount > 0) ` +
    `AS mx, sum(Integral) AS integral, argMin(_prev_time, st) AS prev, min(_first_time) AS firstT ` +
    `FROM (${withAvg}) GROUP BY tag, k`;
  const select =
    `SELECT ${site}tag, ${cycleMs}, ${time7(`k * ${rt}`)}, ${time7(`(k + 1) * ${rt}`)}, ` +
    `${analogQuality("cov", "opcs", rt)}, cov / ${rt} * 100, ` +
    `if(n > 0, fst.1, held.1), if(n > 0, fst.2, held.2), ` +
    `if(n > 0, lst.1, held.1), if(n > 0, lst.2, held.2), ` +
    `if(n > 0, mn.1, NULL), if(n > 0, mn.2, NULL), if(n > 0, mx.1, NULL), if(n > 0, mx.2, NULL), ` +
    `avg, if(cov > 0, sqrt(greatest(spread / (cov / ${TICKS_PER_SECOND}), 0)), NULL), ` +
    `if(cov > 0, integral, NULL), n, cov, area, spread, opcs, prev, firstT, now64(3) ` +
    `FROM (${perCycle})`;
  return `INSERT INTO ${s.analogData} (${
    [...keys, ...ANALOG_COLUMNS, "_computed_at"].map(q).join(", ")
  }) ${select}`;
}

/**
 * Stored finer rows under the coarse cycles (`rt` ticks) above the finest cycles s0..s1 of the
 * plan's tags (finest cycles of `rt0` ticks), within {r_from}..{r_to}.
 */
function rollupRange(s: SummarySql, state: boolean, rt0: number, rt: number): string {
  const plan = `${s.plan} WHERE id = {plan:String} AND state = ${state ? 1 : 0}`;
  return `(TagName, intDiv(${ticks("StartDateTime")}, ${rt})) IN (SELECT tag, ` +
    `arrayJoin(range(intDiv(s0 * ${rt0}, ${rt}), intDiv(s1 * ${rt0}, ${rt}) + 1)) FROM ${plan}) ` +
    `AND TagName IN (SELECT tag FROM ${plan}) ` +
    `AND StartDateTime >= {r_from:DateTime64(7, 'UTC')} AND StartDateTime < ` +
    `{r_to:DateTime64(7, 'UTC')}`;
}

/** The per-state columns of a cycle's row, from per-(cycle, state) aggregates named as below. */
function stateArrays(cycleMs: number, order: string): string {
  const sorted = (expr: string) =>
    `arrayMap(x -> x.2, arraySort(x -> x.1, groupArrayIf((${order}, ${expr}), ` +
    `key != '' AND cnt > 0)))`;
  return [
    sorted("sv"),
    sorted("if(sv IS NOT NULL, toString(sv), sx)"),
    sorted(
      "if(length(opcs) = 1, opcs[1], if(length(opcs) = 0, 192, 64))",
    ),
    sorted("toUInt32(cnt)"),
    sorted("toUInt32(ccnt)"),
    sorted("tmin"),
    sorted("tmax"),
    sorted("ttotal / cnt"),
    sorted("ttotal"),
    sorted("if(ccnt > 0, cmin, NULL)"),
    sorted("if(ccnt > 0, cmax, NULL)"),
    sorted("if(ccnt > 0, ctotal / ccnt, NULL)"),
    sorted("ctotal"),
    sorted(`ttotal / ${cycleMs} * 100`),
    sorted("opcs"),
    sorted("bruns"),
  ].join(", ");
}

/** INSERT of the finest state cycles of the tags in {b_*} from their raw points. */
export function statesFromRaw(s: SummarySql, cycleMs: number, where: string): string {
  const rt = cycleMs * 10_000;
  const keys = keyColumns(s);
  const site = s.site ? "{site:String}, " : "";
  // One row per cycle and run (gap points form a run of their own, key '', kept for the row).
  const perRun = `SELECT tag, k, key, run, any(v) AS rsv, any(sx) AS rsx, ` +
    `sum(len) / 10000 AS ms, groupUniqArrayIf(opc, len > 0 OR inside) AS ropcs, min(x0) AS o1, ` +
    `any(run_start) < k * ${rt} AS before, ` +
    `any(run_end) = -1 OR any(run_end) > (k + 1) * ${rt} AS after, ` +
    `anyIf(t, NOT inside) AS rprev, minIf(t, inside) AS rfirst, ` +
    `countIf(NOT inside) > 0 AS anyHeld, countIf(inside) > 0 AS anyInside ` +
    `FROM (${pieces(s, rt, where, true)}) GROUP BY tag, k, key, run`;
  // Occurrences with time in the cycle, per state.
  const inCycle = "ms > 0 AND NOT before AND NOT after";
  const perState = `SELECT tag, k, key, any(rsv) AS sv, any(rsx) AS sx, min(o1) AS o, ` +
    `countIf(ms > 0) AS cnt, countIf(${inCycle}) AS ccnt, ` +
    `minIf(ms, ms > 0) AS tmin, maxIf(ms, ms > 0) AS tmax, sumIf(ms, ms > 0) AS ttotal, ` +
    `minIf(ms, ${inCycle}) AS cmin, maxIf(ms, ${inCycle}) AS cmax, ` +
    `sumIf(ms, ${inCycle}) AS ctotal, groupUniqArrayArrayIf(ropcs, ms > 0) AS opcs, ` +
    `groupArrayIf((toUInt8(before), toUInt8(after), ms), ms > 0 AND (before OR after)) AS bruns, ` +
    `max(if(anyHeld, rprev, NULL)) AS prev, min(if(anyInside, rfirst, NULL)) AS firstT ` +
    `FROM (${perRun}) GROUP BY tag, k, key`;
  const select =
    `SELECT ${site}tag, ${cycleMs}, ${time7(`k * ${rt}`)}, ${time7(`(k + 1) * ${rt}`)}, ${
      stateArrays(cycleMs, "o")
    }, ` +
    `if(max(prev) IS NULL, NULL, ${time7("max(prev)")}), ` +
    `if(min(firstT) IS NULL, NULL, ${time7("min(firstT)")}), now64(3) ` +
    `FROM (${perState}) GROUP BY tag, k`;
  return `INSERT INTO ${s.stateData} (${
    [...keys, ...STATE_COLUMNS, "_computed_at"].map(q).join(", ")
  }) ${select}`;
}

/**
 * INSERT of coarser state cycles rolled up from the stored finer ones. An occurrence inside a
 * finer cycle is inside the coarser one; one crossing finer edges is chained through the finer
 * rows in time order (a piece that did not start before its finer cycle starts a new chain, so
 * does the first finer cycle of the coarser one), and its pieces add up.
 */
export function statesRollup(
  s: SummarySql,
  finestMs: number,
  fromMs: number,
  cycleMs: number,
): string {
  const rt = cycleMs * 10_000;
  const keys = keyColumns(s);
  const site = s.site ? "{site:String}, " : "";
  const k0 = `k * ${rt}`;
  // One row per finer cycle, state and crossing piece (or one without a piece: `has` = 0).
  const finer = `SELECT TagName AS tag, ${ticks("StartDateTime")} AS st, ` +
    `intDiv(st, ${rt}) AS k, _prev_time AS prev, _first_time AS firstT, ` +
    `arrayJoin(arrayEnumerate(arrayResize(Value, greatest(length(Value), 1)))) AS i, ` +
    `length(Value) > 0 AS hasState, ` +
    `if(hasState, if(Value[i] IS NOT NULL, concat('n', toString(Value[i])), ` +
    `concat('s', vValue[i])), '') AS key, Value[i] AS sv, ` +
    `if(Value[i] IS NULL, vValue[i], NULL) AS sx, ContainedStateCount[i] AS fccnt, ` +
    `StateTimeMinContained[i] AS fcmin, StateTimeMaxContained[i] AS fcmax, ` +
    `StateTimeTotalContained[i] AS fctotal, _opcs[i] AS fopcs, _runs[i] AS pieces ` +
    `FROM ${s.stateData} FINAL WHERE ${siteWhere(s)}wwResolution = ${fromMs} AND ` +
    `${rollupRange(s, true, finestMs * 10_000, rt)}`;
  // One row per finer cycle, state and crossing piece (or one without a piece: `has` = 0).
  const flat = `SELECT *, arrayJoin(arrayEnumerate(arrayResize(pieces, ` +
    `greatest(length(pieces), 1)))) AS j, length(pieces) > 0 AS has, pieces[j] AS piece ` +
    `FROM (${finer})`;
  const chained = `SELECT *, has AND (piece.1 = 0 OR st = ${k0}) AS opens, ` +
    `sum(toUInt64(opens)) OVER (PARTITION BY tag, k, key ORDER BY st, piece.1 DESC ` +
    `ROWS UNBOUNDED PRECEDING) AS chain FROM (${flat})`;
  // Chains (occurrences crossing finer edges) and, apart (has = 0 or j = 1), what is contained.
  const perChain = `SELECT tag, k, key, chain, has, any(sv) AS gsv, any(sx) AS gsx, ` +
    `min(st) AS o, sumIf(piece.3, has) AS ms, argMinIf(piece.1, (st, -piece.1), has) AS before, ` +
    `argMaxIf(piece.2, (st, -piece.1), has) AS after, ` +
    `sumIf(fccnt, j = 1) AS gcnt, minIf(fcmin, j = 1 AND fccnt > 0) AS gmin, ` +
    `maxIf(fcmax, j = 1 AND fccnt > 0) AS gmax, sumIf(fctotal, j = 1) AS gtotal, ` +
    `countIf(j = 1 AND fccnt > 0) AS grows, groupUniqArrayArrayIf(fopcs, j = 1) AS gopcs, ` +
    `argMin(prev, st) AS gprev, min(firstT) AS gfirst ` +
    `FROM (${chained}) GROUP BY tag, k, key, chain, has`;
  const contained = "has AND before = 0 AND after = 0";
  const perKey = `SELECT tag, k, key, any(gsv) AS sv, any(gsx) AS sx, min(o) AS o2, ` +
    `sum(gcnt) + countIf(has) AS cnt, sum(gcnt) + countIf(${contained}) AS ccnt, ` +
    `${least("minIfOrNull(gmin, grows > 0)", "minIfOrNull(ms, has)")} AS tmin, ` +
    `${greatest("maxIfOrNull(gmax, grows > 0)", "maxIfOrNull(ms, has)")} AS tmax, ` +
    `sum(gtotal) + sumIf(ms, has) AS ttotal, ` +
    `${least("minIfOrNull(gmin, grows > 0)", `minIfOrNull(ms, ${contained})`)} AS cmin, ` +
    `${greatest("maxIfOrNull(gmax, grows > 0)", `maxIfOrNull(ms, ${contained})`)} AS cmax, ` +
    `sum(gtotal) + sumIf(ms, ${contained}) AS ctotal, ` +
    `groupUniqArrayArray(gopcs) AS opcs, ` +
    `groupArrayIf((before, after, ms), has AND (before = 1 OR after = 1)) AS bruns, ` +
    `argMin(gprev, o) AS prev, min(gfirst) AS firstT ` +
    `FROM (${perChain}) GROUP BY tag, k, key`;
  const select =
    `SELECT ${site}tag, ${cycleMs}, ${time7(`k * ${rt}`)}, ${time7(`(k + 1) * ${rt}`)}, ${
      stateArrays(cycleMs, "o2")
    }, ` +
    `argMin(prev, o2), min(firstT), now64(3) FROM (${perKey}) GROUP BY tag, k`;
  return `INSERT INTO ${s.stateData} (${
    [...keys, ...STATE_COLUMNS, "_computed_at"].map(q).join(", ")
  }) ${select}`;
}

/** The smaller of two nullable values (NULL only when both are). */
const least = (a: string, b: string) =>
  `if(${a} IS NULL, ${b}, if(${b} IS NULL, ${a}, least(${a}, ${b})))`;
const greatest = (a: string, b: string) =>
  `if(${a} IS NULL, ${b}, if(${b} IS NULL, ${a}, greatest(${a}, ${b})))`;
