/**
 * A plant's spec in versions, for migrate's tests: the raw table of the shipped spec (fewer
 * columns) and its 1-minute aggregation with the hourly and daily rollups, each part switchable,
 * so a test can store rows under one version and migrate to the next. Rows are generated in the
 * store itself, relative to its clock (the raw table keeps 90 days).
 */
import { createLogger } from "../engine/log.ts";
import type { MigrationProgress } from "../engine/migration.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import { parse } from "../cli/_load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import type { TestStore } from "./_clickhouse.ts";

export interface PlantVersion {
  keep?: string;
  partitionBy?: string;
  /** The raw table's sort key, a YAML flow list. */
  orderBy?: string;
  qualityDetail?: string;
  /** Extra raw columns, YAML lines. */
  columns?: string[];
  /** Which aggregations exist: none, the 1-minute one, or it and its rollups. */
  aggregations?: "none" | "minute" | "rollups";
  /** Extra columns of the 1-minute aggregation, YAML lines. */
  minuteColumns?: string[];
  /** The raw table's settings, a YAML flow map. */
  settings?: string;
  /** A table derived from the raw one by a materialized view: its Value column's expression. */
  derived?: string;
  tagsPerChunk?: number;
  window?: string;
}

export const TAGS = 6;
export const DAYS = 3;

/** The spec's text; `${CLICKHOUSE_URL}` and `${CLICKHOUSE_DB}` stay variables. */
export function plantSpec(v: PlantVersion = {}): string {
  const aggregations = v.aggregations ?? "minute";
  return `version: 1
name: plant
source:
  wonderware:
    host: historian.plant.local
sink:
  clickhouse:
    url: \${CLICKHOUSE_URL}
    database: \${CLICKHOUSE_DB}
chunking:
  tags_per_query: ${v.tagsPerChunk ?? 2}
  window: ${v.window ?? "1d"}
backfill:
  from: now-1d
tables:
  WonderwareHistory:
    from: readings
    columns:
      DateTime: { type: "DateTime64(7, 'UTC')", value: time }
      TagName: { type: LowCardinality(String), value: tag }
      Value: { type: Nullable(Float64), value: value }
      vValue: { type: Nullable(String), value: text }
      Quality: { type: UInt8, value: quality_code }
      QualityDetail: { type: "${
    v.qualityDetail ?? "Nullable(Int32)"
  }", value: fields.QualityDetail }
${
    (v.columns ?? []).map((c) => `      ${c}\n`).join("")
  }      IngestedAt: { type: "DateTime64(3, 'UTC')", value: ingested_at }
    engine: ReplacingMergeTree(IngestedAt)
    order_by: ${v.orderBy ?? "[TagName, DateTime]"}
    partition_by: ${v.partitionBy ?? "toYYYYMM(DateTime)"}
    ttl: { column: DateTime, keep: ${v.keep ?? "90d"} }
${v.settings ? `    settings: ${v.settings}\n` : ""}${v.derived ? derived(v.derived) : ""}${
    aggregations === "none" ? "" : minute(v.minuteColumns ?? [])
  }${aggregations === "rollups" ? ROLLUPS : ""}`;
}

function derived(value: string) {
  return `  Doubled:
    from: WonderwareHistory
    columns:
      TagName: { type: LowCardinality(String), expr: TagName }
      DateTime: { type: "DateTime64(7, 'UTC')", expr: DateTime }
      Value: { type: Nullable(Float64), expr: "${value}" }
    order_by: [TagName, DateTime]
`;
}

function minute(extra: string[]) {
  return MINUTE.replace(
    "    ttl: 2y\n",
    `${extra.map((c) => `      ${c}\n`).join("")}    ttl: 2y\n`,
  );
}

const MINUTE = `aggregations:
  WonderwareHistoryAggregated:
    from: WonderwareHistory
    tag_column: TagName
    time_column: DateTime
    bucket: 1m
    bucket_column: minute
    columns:
      first_value: { type: Nullable(Float64), expr: "argMinIf(Value, DateTime, Value IS NOT NULL)" }
      avg_value: {
        type: Nullable(Float64),
        expr: "if(count(Value) = 0, NULL, arraySum(arraySort(groupArray(Value))) / count(Value))",
      }
      min_value: { type: Nullable(Float64), expr: min(Value) }
      max_value: { type: Nullable(Float64), expr: max(Value) }
      count: { type: UInt64, expr: count() }
      avg_quality: { type: Float64, expr: avg(Quality) }
      min_quality: { type: UInt8, expr: min(Quality) }
      last_value: { type: Nullable(Float64), expr: "argMaxIf(Value, DateTime, Value IS NOT NULL)" }
      gaps: { type: UInt64, expr: "countIf(Value IS NULL AND vValue IS NULL)" }
    ttl: 2y
`;

const ROLLUPS = `  WonderwareHistoryHourly:
    from: WonderwareHistoryAggregated
    tag_column: TagName
    time_column: minute
    bucket: 1h
    bucket_column: hour
    columns:
      first_value: { type: Nullable(Float64), expr: "argMinIf(first_value, minute, first_value IS NOT NULL)" }
      last_value: { type: Nullable(Float64), expr: "argMaxIf(last_value, minute, last_value IS NOT NULL)" }
      min_value: { type: Nullable(Float64), expr: min(min_value) }
      max_value: { type: Nullable(Float64), expr: max(max_value) }
      count: { type: UInt64, expr: sum(count) }
      gaps: { type: UInt64, expr: sum(gaps) }
    ttl: 2y
  WonderwareHistoryDaily:
    from: WonderwareHistoryHourly
    tag_column: TagName
    time_column: hour
    bucket: 1d
    bucket_column: day
    columns:
      first_value: { type: Nullable(Float64), expr: "argMinIf(first_value, hour, first_value IS NOT NULL)" }
      last_value: { type: Nullable(Float64), expr: "argMaxIf(last_value, hour, last_value IS NOT NULL)" }
      min_value: { type: Nullable(Float64), expr: min(min_value) }
      max_value: { type: Nullable(Float64), expr: max(max_value) }
      count: { type: UInt64, expr: sum(count) }
      gaps: { type: UInt64, expr: sum(gaps) }
    ttl: 2y
`;

/**
 * Stores TAGS tags × DAYS days of 1-minute readings ending before today (UTC), with a gap
 * marker every 17th row and values with two decimals, straight into the raw table.
 */
export async function storeRows(store: TestStore, db: string): Promise<number> {
  const n = TAGS * DAYS * 1440;
  await ok(
    store,
    `INSERT INTO ${db}.WonderwareHistory (DateTime, TagName, Value, vValue, Quality, QualityDetail)
     SELECT toDateTime64(toStartOfDay(now(), 'UTC'), 7, 'UTC') - INTERVAL ${DAYS} DAY
              + toIntervalSecond(intDiv(number, ${TAGS}) * 60 + number % ${TAGS}),
            concat('Line1.Press0', toString(number % ${TAGS}), '.Temperature'),
            if(number % 17 = 0, NULL, round(sin(number / 50) * 100 + number % 7, 2)),
            NULL, if(number % 17 = 0, 1, 0), if(number % 17 = 0, 249, 192)
     FROM numbers(${n})`,
  );
  return n;
}

/** Runs one statement as the writer; its text answer, or an error with the store's words. */
export async function ok(store: TestStore, sql: string): Promise<string> {
  const r = await store.sql(sql);
  const text = await r.text();
  if (!r.ok) throw new Error(`${sql.slice(0, 80)}: ${text}`);
  return text;
}

/** The 1-minute aggregation recomputed from scratch over the deduplicated raw rows. */
export const RECOMPUTED_MINUTES =
  `SELECT TagName, toStartOfMinute(DateTime) AS minute, argMinIf(Value, DateTime, Value IS NOT NULL) AS first_value,
     if(count(Value) = 0, NULL, arraySum(arraySort(groupArray(Value))) / count(Value)) AS avg_value,
     min(Value) AS min_value, max(Value) AS max_value, count() AS count, avg(Quality) AS avg_quality,
     min(Quality) AS min_quality, argMaxIf(Value, DateTime, Value IS NOT NULL) AS last_value,
     countIf(Value IS NULL AND vValue IS NULL) AS gaps
   FROM WonderwareHistory FINAL GROUP BY TagName, minute ORDER BY TagName, minute`;

export const STORED_MINUTES =
  `SELECT TagName, minute, first_value, avg_value, min_value, max_value, count, avg_quality,
     min_quality, last_value, gaps
   FROM WonderwareHistoryAggregated FINAL ORDER BY TagName, minute`;

/** The sink for a version of the plant's spec in `db`, with migrate's calls at hand. */
export async function openPlant(store: TestStore, db: string, version: PlantVersion) {
  const env: Record<string, string> = { CLICKHOUSE_URL: store.url, CLICKHOUSE_DB: db };
  const loaded = parse(plantSpec(version), "plant.yaml", (n) => env[n]);
  const sink: Sink = await clickhouse.create(loaded.plugins.sink.options as never, {
    log: createLogger({ level: "error", format: "json", write: () => {} }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
    spec: "plant.yaml",
  });
  const model = storageModelOf(loaded.spec);
  const options = {
    tagsPerChunk: loaded.spec.chunking.tags_per_query,
    window: loaded.spec.chunking.window,
  };
  return {
    sink,
    model,
    plan: () => sink.migrate!.plan(model, "plant", options),
    apply: (more: { allowLoss?: boolean; onProgress?: (p: MigrationProgress) => void } = {}) =>
      sink.migrate!.apply(model, "plant", { ...options, ...more }),
    prepare: () => sink.prepare(model, "plant"),
    close: () => sink.close(),
  };
}

/** A new database holding `version`'s tables and the plant's rows (aggregated where it has that). */
export async function storedPlant(store: TestStore, db: string, version: PlantVersion) {
  const s = await openPlant(store, db, version);
  try {
    await s.prepare();
    await storeRows(store, db);
    if ((version.aggregations ?? "minute") !== "none") {
      await ok(
        store,
        `INSERT INTO ${db}.WonderwareHistoryAggregated SELECT *, now64(3) FROM (${
          RECOMPUTED_MINUTES.replace("FROM WonderwareHistory", `FROM ${db}.WonderwareHistory`)
        })`,
      );
    }
  } finally {
    await s.close();
  }
}
