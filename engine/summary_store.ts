/**
 * The stored summaries, read back through the sink's query capability: AnalogSummaryHistory and
 * StateSummaryHistory under AVEVA's names and columns (the contract every pipeline's summary
 * tables keep, issue 29), with typed parameters in the store's placeholder syntax — the same
 * declared-SQL contract the API's routes use. Times come back as 100-ns ticks in text, so
 * nothing is rounded on the way.
 */
import type { QueryService } from "./plugin.ts";
import { formatTicks } from "./types.ts";
import type { AnalogSummaryRow, StateSummaryRow, Summaries, Ticks, TimeWindow } from "./types.ts";

const TIMES = new Set([
  "StartDateTime",
  "EndDateTime",
  "FirstDateTime",
  "LastDateTime",
  "MinDateTime",
  "MaxDateTime",
]);
const ANALOG_COLUMNS = [
  "TagName",
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
];
const STATE_COLUMNS = [
  "TagName",
  "StartDateTime",
  "EndDateTime",
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
];

/** `2024-01-31 12:00:00.1234567`: a DateTime64(7, 'UTC') parameter. */
const storeTime = (t: Ticks) => formatTicks(t).replace("T", " ").replace("Z", "");

/** The columns, times as text ticks under another name (ClickHouse's WHERE would see an alias). */
const select = (columns: string[]) =>
  columns.map((c) =>
    TIMES.has(c) ? `toString(intDiv(toUnixTimestamp64Nano(${c}), 100)) AS ${c}${TICKS}` : c
  ).join(", ");
const TICKS = "_ticks";

const where = `TagName IN {tags:Array(String)} AND wwResolution = {resolution:UInt32}
  AND StartDateTime >= {from:DateTime64(7, 'UTC')} AND EndDateTime <= {to:DateTime64(7, 'UTC')}`;

/** A stored row in the engine's types: times as ticks, numbers as numbers (64-bit ones arrive as text). */
function typed<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(row)) {
    const k = name.endsWith(TICKS) ? name.slice(0, -TICKS.length) : name;
    out[k] = v === null || v === undefined
      ? null
      : TIMES.has(k)
      ? BigInt(v as string)
      : k === "TagName" || k === "vValue"
      ? String(v)
      : Number(v);
  }
  return out as T;
}

/** What verify reads of the stored summaries (in-memory in the engine's own tests). */
export interface SummaryStore {
  /** The stored rows of `tags` for the cycles of `resolutionMs` inside `window` ([from, to]). */
  rows(tags: readonly string[], window: TimeWindow, resolutionMs: number): Promise<Summaries>;
}

/** The stored summaries through the sink's query capability. */
export function sqlSummaryStore(queries: QueryService): SummaryStore {
  return {
    rows: (tags, window, resolutionMs) => storedSummaries(queries, tags, window, resolutionMs),
  };
}

async function storedSummaries(
  queries: QueryService,
  tags: readonly string[],
  window: TimeWindow,
  resolutionMs: number,
): Promise<Summaries> {
  const params = {
    tags: [...tags],
    resolution: resolutionMs,
    from: storeTime(window.from),
    to: storeTime(window.to),
  };
  const [analog, state] = await Promise.all([
    queries.query(
      `SELECT ${select(ANALOG_COLUMNS)} FROM AnalogSummaryHistory WHERE ${where}`,
      params,
    ),
    queries.query(
      `SELECT ${select(STATE_COLUMNS)} FROM StateSummaryHistory WHERE ${where}`,
      params,
    ),
  ]);
  return {
    analog: analog.map((r) => typed<AnalogSummaryRow>(r)),
    state: state.map((r) => typed<StateSummaryRow>(r)),
  };
}
