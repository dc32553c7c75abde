/**
 * The stored summaries, read back through the sink's query capability: the views the spec's
 * `summaries:` names (AnalogSummaryHistory and StateSummaryHistory by default) with AVEVA's
 * columns, the contract every pipeline's summaries keep, with typed parameters in the store's
 * placeholder syntax — the same declared-SQL contract the API's routes use. Times come back as
 * 100-ns ticks in text, so nothing is rounded on the way.
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

/** Where the rows are: the two views (the spec's names) and, where sites share them, this site. */
export interface SummaryTables {
  analog: string;
  state: string;
  site?: { column: string; value: string };
}

/** The stored summaries through the sink's query capability. */
export function sqlSummaryStore(queries: QueryService, tables: SummaryTables): SummaryStore {
  return {
    rows: (tags, window, resolutionMs) =>
      storedSummaries(queries, tables, tags, window, resolutionMs),
  };
}

const quoted = (name: string) => `\`${name.replaceAll("`", "``")}\``;

async function storedSummaries(
  queries: QueryService,
  tables: SummaryTables,
  tags: readonly string[],
  window: TimeWindow,
  resolutionMs: number,
): Promise<Summaries> {
  const params = {
    tags: [...tags],
    resolution: resolutionMs,
    from: storeTime(window.from),
    to: storeTime(window.to),
    site: tables.site?.value ?? "",
  };
  const site = tables.site ? `${quoted(tables.site.column)} = {site:String} AND ` : "";
  const from = (view: string, columns: string[]) =>
    `SELECT ${select(columns)} FROM ${quoted(view)} WHERE ${site}${where}`;
  const [analog, state] = await Promise.all([
    queries.query(from(tables.analog, ANALOG_COLUMNS), params),
    queries.query(from(tables.state, STATE_COLUMNS), params),
  ]);
  return {
    analog: analog.map((r) => typed<AnalogSummaryRow>(r)),
    state: state.map((r) => typed<StateSummaryRow>(r)),
  };
}
