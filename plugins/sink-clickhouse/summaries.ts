/**
 * AVEVA's summary views, kept by ClickHouse (docs/summaries.md): the tables, the views readers
 * query under AVEVA's names, and the recompute a unit's commit runs.
 *
 * Storage. Rows live in ReplacingMergeTree tables (`<view>__data`, one row per tag, resolution
 * and cycle; a state cycle keeps its states as parallel arrays, so a recomputed cycle replaces
 * all of them, including states a late point removed). The names AVEVA's reports use are plain
 * views over them with FINAL (and ARRAY JOIN for states), so `SELECT … FROM AnalogSummaryHistory`
 * returns every row once. Small tables hold per tag what the recompute needs: its kind,
 * interpolation and integral divisor (`__tags`, from discovery), its horizon (`__horizon`, the
 * latest end of a committed unit: the signal is known up to it) and the plan of a running
 * recompute (`__plan`).
 *
 * Recompute (_summary_recompute.ts). A unit (from, to] decides the cycles from the one holding
 * its first instant — for linear and state tags from the one holding the point before it, whose
 * segment now ends elsewhere — up to the cycle holding the tag's first stored point after `to`
 * (or the horizon). Coarser cycles are then rolled up from the finer rows just written.
 */
import { isReadingsTable, PluginError } from "../../engine/mod.ts";
import type { AssetRow, StorageModel, SummariesSpec } from "../../engine/mod.ts";
import { command } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { PLUGIN } from "./_client.ts";
import { createTable, q } from "./ddl.ts";
import type { Ddl, TableShape, Target } from "./ddl.ts";
import { ANALOG_COLUMNS, STATE_ARRAYS } from "./_summary_sql.ts";
import type { SummarySql } from "./_summary_sql.ts";

const TIME7 = "DateTime64(7, 'UTC')";
const NTIME7 = `Nullable(${TIME7})`;

/** The tables and settings of one spec's summaries, as the sink uses them. */
export interface PreparedSummaries {
  sql: SummarySql;
  spec: SummariesSpec;
  /** Cycle lengths in ms, finest first. */
  cycles: number[];
  tagsTable: string;
  horizonTable: string;
}

/** Names of the tables behind the views. */
export function summaryTables(s: SummariesSpec) {
  return {
    analogData: `${s.analog_table}__data`,
    stateData: `${s.state_table}__data`,
    tags: `${s.analog_table}__tags`,
    horizon: `${s.analog_table}__horizon`,
    plan: `${s.analog_table}__plan`,
  };
}

interface Source {
  site?: { name: string; type: string };
  tagType: string;
  final: boolean;
}

function sourceOf(model: StorageModel, s: SummariesSpec): Source {
  const table = model.tables[s.from];
  if (!table || !isReadingsTable(table)) {
    throw new PluginError(PLUGIN, `summaries.from: "${s.from}" is not a readings table`, {
      reason: "invalid",
    });
  }
  const site = Object.entries(table.columns).find(([, c]) => c.value === "site");
  return {
    site: site ? { name: site[0], type: site[1].type } : undefined,
    tagType: table.columns[s.tag_column]?.type ?? "String",
    final: /(Replacing|Collapsing)MergeTree/.test(table.engine),
  };
}

/** TTL per resolution: `TTL toDateTime(StartDateTime) + INTERVAL n DAY DELETE WHERE …`. */
function ttlOf(s: SummariesSpec): string | undefined {
  const rules = s.cycles.filter((c) => c.keep !== undefined).map((c) =>
    `toDateTime(StartDateTime) + INTERVAL ${
      Math.round(c.keep! / 1000)
    } SECOND DELETE WHERE wwResolution = ${c.every}`
  );
  return rules.length ? ` TTL ${rules.join(", ")}` : undefined;
}

/** The DDL of the summaries: the two data tables, their views and the two per-tag tables. */
export function summaryDdl(t: Target, model: StorageModel): Ddl[] {
  const s = model.summaries;
  if (!s) return [];
  const src = sourceOf(model, s);
  const names = summaryTables(s);
  const siteCols: [string, string][] = src.site ? [[src.site.name, src.site.type]] : [];
  const keys = [...siteCols.map(([n]) => n)];
  const cycleKey = [...keys, "TagName", "wwResolution", "StartDateTime"];
  const ttl = ttlOf(s);
  const analog: TableShape = {
    columns: [
      ...siteCols,
      ["TagName", src.tagType],
      ["wwResolution", "UInt32"],
      ["StartDateTime", TIME7],
      ["EndDateTime", TIME7],
      ["OPCQuality", "Int32"],
      ["PercentGood", "Float64"],
      ["First", "Nullable(Float64)"],
      ["FirstDateTime", NTIME7],
      ["Last", "Nullable(Float64)"],
      ["LastDateTime", NTIME7],
      ["Minimum", "Nullable(Float64)"],
      ["MinDateTime", NTIME7],
      ["Maximum", "Nullable(Float64)"],
      ["MaxDateTime", NTIME7],
      ["Average", "Nullable(Float64)"],
      ["StdDev", "Nullable(Float64)"],
      ["Integral", "Nullable(Float64)"],
      ["ValueCount", "UInt32"],
      ["_covered", "Int64"],
      ["_area", "Float64"],
      ["_spread", "Float64"],
      ["_opcs", "Array(Int32)"],
      ["_prev_time", NTIME7],
      ["_first_time", NTIME7],
      ["_computed_at", "DateTime64(3, 'UTC')"],
    ],
    engine: "ReplacingMergeTree(_computed_at)",
    orderBy: cycleKey,
    partitionBy: "toYYYYMM(StartDateTime)",
    ttlSql: ttl,
  };
  const stateTypes: Record<(typeof STATE_ARRAYS)[number], string> = {
    Value: "Array(Nullable(Float64))",
    vValue: "Array(Nullable(String))",
    OPCQuality: "Array(Int32)",
    StateCount: "Array(UInt32)",
    ContainedStateCount: "Array(UInt32)",
    StateTimeMin: "Array(Float64)",
    StateTimeMax: "Array(Float64)",
    StateTimeAvg: "Array(Float64)",
    StateTimeTotal: "Array(Float64)",
    StateTimeMinContained: "Array(Nullable(Float64))",
    StateTimeMaxContained: "Array(Nullable(Float64))",
    StateTimeAvgContained: "Array(Nullable(Float64))",
    StateTimeTotalContained: "Array(Float64)",
    StateTimePercent: "Array(Float64)",
  };
  const state: TableShape = {
    columns: [
      ...siteCols,
      ["TagName", src.tagType],
      ["wwResolution", "UInt32"],
      ["StartDateTime", TIME7],
      ["EndDateTime", TIME7],
      ...STATE_ARRAYS.map((c) => [c, stateTypes[c]] as [string, string]),
      ["_opcs", "Array(Array(Int32))"],
      ["_runs", "Array(Array(Tuple(UInt8, UInt8, Float64)))"],
      ["_prev_time", NTIME7],
      ["_first_time", NTIME7],
      ["_computed_at", "DateTime64(3, 'UTC')"],
    ],
    engine: "ReplacingMergeTree(_computed_at)",
    orderBy: cycleKey,
    partitionBy: "toYYYYMM(StartDateTime)",
    ttlSql: ttl,
  };
  const tags: TableShape = {
    columns: [
      ...siteCols,
      ["tag", "String"],
      ["kind", "LowCardinality(String)"],
      ["interpolation", "LowCardinality(String)"],
      ["integral_divisor", "Float64"],
      ["_version", "DateTime64(3, 'UTC')", "DEFAULT now64(3)"],
    ],
    engine: "ReplacingMergeTree(_version)",
    orderBy: [...keys, "tag"],
  };
  const horizon: TableShape = {
    columns: [...siteCols, ["tag", "String"], ["horizon", TIME7]],
    engine: "ReplacingMergeTree(horizon)",
    orderBy: [...keys, "tag"],
  };
  // What one recompute reads and writes per tag, sent in a request body rather than as URL
  // parameters (thousands of tags fit); kept a day for a look afterwards.
  const plan: TableShape = {
    columns: [
      ["id", "String"],
      ["tag", "String"],
      ["state", "UInt8"],
      ["lo", "Int64"],
      ["hi", "Int64"],
      ["s0", "Int64"],
      ["s1", "Int64"],
      ["h", "Int64"],
      ["lin", "UInt8"],
      ["dv", "Float64"],
      ["grp", "UInt32"],
      ["at", "DateTime", "DEFAULT now()"],
    ],
    engine: "MergeTree",
    orderBy: ["id", "tag"],
    ttlSql: " TTL at + INTERVAL 1 DAY",
  };
  const db = q(t.database);
  const visible = ["TagName", "StartDateTime", "EndDateTime", "wwResolution"];
  const analogView = `SELECT ${
    [
      ...keys,
      ...visible,
      ...ANALOG_COLUMNS.filter((c) => !c.startsWith("_") && !visible.includes(c)),
    ]
      .map(q).join(", ")
  } FROM ${db}.${q(names.analogData)} FINAL ` +
    `SETTINGS do_not_merge_across_partitions_select_final = 1`;
  const stateView =
    `SELECT ${[...keys, ...visible, ...STATE_ARRAYS].map(q).join(", ")} FROM ${db}.${
      q(names.stateData)
    } FINAL ARRAY JOIN ${STATE_ARRAYS.map(q).join(", ")} ` +
    `SETTINGS do_not_merge_across_partitions_select_final = 1`;
  const table = (name: string, shape: TableShape): Ddl => ({
    name,
    kind: "table",
    sql: createTable(t, name, shape),
    shape,
  });
  const view = (name: string, select: string): Ddl => ({
    name,
    kind: "view",
    sql: `CREATE VIEW IF NOT EXISTS ${db}.${q(name)} AS ${select}`,
    select,
  });
  return [
    table(names.tags, tags),
    table(names.horizon, horizon),
    table(names.plan, plan),
    table(names.analogData, analog),
    table(names.stateData, state),
    view(s.analog_table, analogView),
    view(s.state_table, stateView),
  ];
}

/** What the sink keeps of the spec's summaries after prepare(). */
export function prepareSummaries(db: string, model: StorageModel): PreparedSummaries | undefined {
  const s = model.summaries;
  if (!s) return undefined;
  const src = sourceOf(model, s);
  const names = summaryTables(s);
  return {
    spec: s,
    cycles: s.cycles.map((c) => c.every),
    tagsTable: `${db}.${q(names.tags)}`,
    horizonTable: `${db}.${q(names.horizon)}`,
    sql: {
      raw: `${db}.${q(s.from)}`,
      final: src.final,
      site: src.site?.name,
      tag: s.tag_column,
      time: s.time_column,
      value: s.value_column,
      text: s.text_column,
      quality: s.quality,
      extended: s.quality_rule === "extended",
      analogData: `${db}.${q(names.analogData)}`,
      stateData: `${db}.${q(names.stateData)}`,
      plan: `${db}.${q(names.plan)}`,
    },
  };
}

/** Records per tag how the summaries read it: analog or states, interpolation, divisor. */
export async function setSummaryTags(conn: Conn, p: PreparedSummaries, assets: AssetRow[]) {
  if (assets.length === 0) return;
  const site = p.sql.site;
  const columns = [...(site ? [site] : []), "tag", "kind", "interpolation", "integral_divisor"];
  const body = assets.map((a) =>
    JSON.stringify({
      ...(site ? { [site]: a.source } : {}),
      tag: a.tag,
      kind: a.type === "analog" ? "analog" : "state",
      interpolation: a.interpolation ?? "linear",
      integral_divisor: a.integralDivisor ?? 1,
    })
  ).join("\n");
  await command(
    conn,
    "writing the summaries' tag metadata",
    `INSERT INTO ${p.tagsTable} (${columns.map(q).join(", ")}) FORMAT JSONEachRow\n${body}`,
    {},
    { insert_deduplicate: 0 },
  );
}

export { recomputeSummaries } from "./_summary_recompute.ts";
