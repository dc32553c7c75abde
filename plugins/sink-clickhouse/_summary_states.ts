/**
 * StateSummaryHistory's statements (_summary_sql.ts has the shared pieces): occurrences of the
 * finest cycles from the raw points, coarser cycles rolled up from the finer rows with the
 * occurrences that cross finer edges chained through them.
 */
import { q } from "./ddl.ts";
import {
  greatest,
  keyColumns,
  least,
  pieces,
  rollupRange,
  siteWhere,
  STATE_COLUMNS,
  ticks,
  time7,
} from "./_summary_sql.ts";
import type { SummarySql } from "./_summary_sql.ts";

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
