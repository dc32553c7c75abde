/**
 * AnalogSummaryHistory's statements (_summary_sql.ts has the shared pieces): the finest cycles
 * from the raw points, coarser ones rolled up from the finer rows.
 */
import { q } from "./ddl.ts";
import {
  ANALOG_COLUMNS,
  keyColumns,
  level,
  pieces,
  rollupRange,
  siteWhere,
  ticks,
  TICKS_PER_SECOND,
  time7,
} from "./_summary_sql.ts";
import type { SummarySql } from "./_summary_sql.ts";

/** The OPCQuality of an analog cycle: bad with nothing covered, the one good code when fully. */
const analogQuality = (covered: string, opcs: string, rt: number) =>
  `if(${covered} = 0, 0, if(${covered} = ${rt} AND arrayAll(c -> c >= 192, ${opcs}), ` +
  `if(length(${opcs}) = 1, ${opcs}[1], 192), 64))`;

/** INSERT of the finest analog cycles of the tags in {b_*} from their raw points. */
export function analogFromRaw(s: SummarySql, cycleMs: number, where: string): string {
  const rt = cycleMs * 10_000;
  const keys = keyColumns(s);
  const site = s.site ? "{site:String}, " : "";
  const covered = "v IS NOT NULL AND len > 0";
  const inside = "inside AND v IS NOT NULL";
  const held = "NOT inside AND (len > 0 OR nt = -1)";
  const y0 = "assumeNotNull(y0)";
  const y1 = "assumeNotNull(y1)";
  // Scalar aggregates where they do (tuples cost), the pieces as three arrays for the spread.
  const perCycle = `SELECT tag, k, any(dv) AS dv, sumIf(len, ${covered}) AS cov, ` +
    `groupUniqArrayIf(opc, ${covered}) AS opcs, ` +
    `sumIf(len / ${TICKS_PER_SECOND} * (${y0} + ${y1}) / 2, ${covered}) AS area, ` +
    `groupArrayIf(len / ${TICKS_PER_SECOND}, ${covered}) AS pl, ` +
    `groupArrayIf(${y0}, ${covered}) AS pa, groupArrayIf(${y1}, ${covered}) AS pb, ` +
    `countIf(${inside}) AS n, ` +
    `argMinIf(v, t, ${inside}) AS fv, minIf(t, ${inside}) AS ft, ` +
    `argMaxIf(v, t, ${inside}) AS lv, maxIf(t, ${inside}) AS lt, ` +
    `minIf(v, ${inside}) AS mnv, argMinIf(t, (assumeNotNull(v), t), ${inside}) AS mnt, ` +
    `maxIf(v, ${inside}) AS mxv, argMinIf(t, (-assumeNotNull(v), t), ${inside}) AS mxt, ` +
    // The piece from before the start: the point in effect at it, unless the next point sits
    // exactly on the start (a piece of length 0 that only names the point before).
    `anyIf(v, ${held}) AS hv, anyIf(t, ${held}) AS ht, countIf(${held}) > 0 AS anyHeld, ` +
    `anyIf(t, NOT inside) AS prev, countIf(NOT inside) > 0 AS anyPrev, ` +
    `minIf(t, inside) AS firstT, countIf(inside) > 0 AS anyInside ` +
    `FROM (${pieces(s, rt, where, false)}) GROUP BY tag, k`;
  const cols = [
    "tag",
    "k",
    "dv",
    "cov",
    "opcs",
    "area",
    "pl",
    "pa",
    "pb",
    "n",
    "fv",
    "ft",
    "lv",
    "lt",
    "mnv",
    "mnt",
    "mxv",
    "mxt",
    "hv",
    "ht",
    "anyHeld",
    "prev",
    "anyPrev",
    "firstT",
    "anyInside",
  ];
  const withAvg = level(cols, [
    `if(cov > 0, area / (cov / ${TICKS_PER_SECOND}), NULL) AS avg`,
    `if(cov > 0, area / (cov / ${TICKS_PER_SECOND}), 0) AS m`,
  ], perCycle);
  // The spread in a second pass, around the cycle's average.
  const withSpread = level([...cols, "avg"], [
    "arraySum((l, a, b) -> l * ((a - m) * (a - m) + (a - m) * (b - m) + (b - m) * (b - m)) / 3, " +
    "pl, pa, pb) AS spread",
  ], withAvg);
  const heldValue = "if(anyHeld AND hv IS NOT NULL, hv, NULL)";
  const heldTime = `if(anyHeld AND hv IS NOT NULL, ${time7("ht")}, NULL)`;
  const select =
    `SELECT ${site}tag, ${cycleMs}, ${time7(`k * ${rt}`)}, ${time7(`(k + 1) * ${rt}`)}, ` +
    `${analogQuality("cov", "opcs", rt)}, cov / ${rt} * 100, ` +
    `if(n > 0, fv, ${heldValue}), if(n > 0, ${time7("ft")}, ${heldTime}), ` +
    `if(n > 0, lv, ${heldValue}), if(n > 0, ${time7("lt")}, ${heldTime}), ` +
    `if(n > 0, mnv, NULL), if(n > 0, ${time7("mnt")}, NULL), ` +
    `if(n > 0, mxv, NULL), if(n > 0, ${time7("mxt")}, NULL), ` +
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
