/**
 * The Historian's own summaries, for `verify --summaries`: AnalogSummaryHistory for analog tags
 * and StateSummaryHistory for discrete and string tags, per cycle of `wwResolution` ms from the
 * window's start (`StartDateTime >= @from AND EndDateTime <= @to`), in UTC, latest version,
 * every value a typed parameter. The Historian computes them from its stored points; SQL Server
 * sends a row per cycle (and state).
 */
import sql from "./_mssql.ts";
import type {
  AnalogSummaryRow,
  StateSummaryRow,
  Summaries,
  TagInfo,
  TimeWindow,
} from "../../engine/mod.ts";
import { dateOf, ticksOf } from "./_time.ts";
import type { HistoryDate } from "./_time.ts";

const ANALOG = `TagName, StartDateTime, EndDateTime, OPCQuality, PercentGood, First, FirstDateTime,
  Last, LastDateTime, Minimum, MinDateTime, Maximum, MaxDateTime, Average, StdDev, Integral,
  ValueCount`;
const STATE = `TagName, StartDateTime, EndDateTime, Value, vValue, OPCQuality, StateCount,
  ContainedStateCount, StateTimeMin, StateTimeMax, StateTimeAvg, StateTimeTotal,
  StateTimeMinContained, StateTimeMaxContained, StateTimeAvgContained, StateTimeTotalContained,
  StateTimePercent`;
const TIMES = [
  "StartDateTime",
  "EndDateTime",
  "FirstDateTime",
  "LastDateTime",
  "MinDateTime",
  "MaxDateTime",
];

/** One view's rows for `tags`, times as ticks, names as the caller spelled them. */
async function rows<T>(
  pool: sql.ConnectionPool,
  view: string,
  columns: string,
  tags: readonly TagInfo[],
  window: TimeWindow,
  resolutionMs: number,
): Promise<T[]> {
  if (tags.length === 0) return [];
  const request = pool.request();
  tags.forEach((t, i) => request.input(`t${i}`, sql.NVarChar(256), t.name));
  request.input("from", sql.DateTime2(7), dateOf(window.from));
  request.input("to", sql.DateTime2(7), dateOf(window.to));
  request.input("resolution", sql.Int, resolutionMs);
  const result = await request.query(
    `SELECT ${columns} FROM ${view} WHERE TagName IN (${tags.map((_, i) => `@t${i}`).join(", ")})
     AND StartDateTime >= @from AND EndDateTime <= @to AND wwResolution = @resolution
     AND wwVersion = 'Latest' AND wwTimeZone = 'UTC'`,
  );
  const byLower = new Map(tags.map((t) => [t.name.toLowerCase(), t.name]));
  return (result.recordset as Record<string, unknown>[]).map((r) => {
    const out: Record<string, unknown> = { ...r };
    out.TagName = byLower.get(String(r.TagName).toLowerCase()) ?? r.TagName;
    for (const c of TIMES) {
      if (c in out) out[c] = out[c] === null ? null : ticksOf(out[c] as HistoryDate);
    }
    return out as T;
  });
}

export async function readSummaries(
  pool: sql.ConnectionPool,
  tags: readonly TagInfo[],
  window: TimeWindow,
  resolutionMs: number,
): Promise<Summaries> {
  const [analog, state] = await Promise.all([
    rows<AnalogSummaryRow>(
      pool,
      "AnalogSummaryHistory",
      ANALOG,
      tags.filter((t) => t.type === "analog"),
      window,
      resolutionMs,
    ),
    rows<StateSummaryRow>(
      pool,
      "StateSummaryHistory",
      STATE,
      tags.filter((t) => t.type !== "analog"),
      window,
      resolutionMs,
    ),
  ]);
  return { analog, state };
}
