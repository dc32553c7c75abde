/**
 * ClickHouse DDL for a storage model: tables, materialized views for derived tables, tables
 * for aggregations, the asset-model table and the pipeline-state tables. Every statement is
 * `IF NOT EXISTS`, so preparing twice changes nothing; `driftOf()` compares what exists with
 * what the spec declares, using ClickHouse's own canonical forms (a scratch copy of the
 * declared table is created and read back), so formatting differences are not drift.
 */
import {
  aggregationInput,
  isReadingsTable,
  orderedAggregations,
  siteColumnOf,
} from "../../engine/mod.ts";
import type {
  Aggregation,
  AggregationInput,
  DerivedTable,
  ReadingsTable,
  StorageModel,
  Table,
} from "../../engine/mod.ts";

export const q = (name: string) => `\`${name.replace(/[`\\]/g, "\\$&")}\``;
/** A ClickHouse string literal. */
export const literal = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/** Where DDL goes and how engines are adapted to it. */
export interface Target {
  database: string;
  /** With a cluster: ON CLUSTER DDL and Replicated engines. */
  cluster?: string;
}

const MERGE_TREE_FAMILY =
  /^(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing|Graphite)?MergeTree\b/;
/** Engines whose FINAL collapses duplicates; reads that must not see them use FINAL. */
export const supportsFinal = (engine: string) =>
  /(Replacing|Summing|Aggregating|Collapsing|Graphite)MergeTree/.test(engine);

/** The asset dimension's table: the spec's `assets.table`, or `<pipeline>_assets`. */
export function assetsTable(pipeline: string, model?: StorageModel) {
  return model?.assets?.table ?? `${pipeline}_assets`;
}

/** What the dimension keeps of each tag beyond its attributes (an attribute of the same name wins). */
export const TAG_METADATA: [string, string][] = [
  ["description", "String"],
  ["unit", "LowCardinality(String)"],
  ["min", "Nullable(Float64)"],
  ["max", "Nullable(Float64)"],
  ["type", "LowCardinality(String)"],
  ["source", "LowCardinality(String)"],
];

/** The dimension's metadata columns that the asset model does not declare itself. */
export function metadataColumns(model: StorageModel): [string, string][] {
  const own = new Set(model.assets?.columns ?? []);
  return TAG_METADATA.filter(([c]) => !own.has(c));
}

export const STATE_TABLES = {
  watermarks: "_pipeline_watermarks",
  units: "_pipeline_units",
  runs: "_pipeline_runs",
} as const;

export function onCluster(t: Target) {
  return t.cluster ? ` ON CLUSTER ${q(t.cluster)}` : "";
}

function engineFor(engine: string, t: Target): string {
  if (t.cluster && MERGE_TREE_FAMILY.test(engine)) return `Replicated${engine}`;
  return engine;
}

function settingsFor(engine: string, declared: Record<string, unknown> | undefined, t: Target) {
  const settings: Record<string, unknown> = { ...declared };
  // Without replication, ClickHouse deduplicates retried inserts only inside this window.
  if (
    !t.cluster && MERGE_TREE_FAMILY.test(engine) &&
    !("non_replicated_deduplication_window" in settings)
  ) {
    settings.non_replicated_deduplication_window = 10_000;
  }
  const parts = Object.entries(settings).map(([k, v]) =>
    `${k} = ${typeof v === "string" ? literal(v) : Number(v)}`
  );
  return parts.length ? ` SETTINGS ${parts.join(", ")}` : "";
}

function ttlClause(ttl: { column: string; keep: number } | undefined) {
  if (!ttl) return "";
  const days = ttl.keep / 86_400_000;
  return Number.isInteger(days)
    ? ` TTL ${q(ttl.column)} + INTERVAL ${days} DAY`
    : ` TTL ${q(ttl.column)} + INTERVAL ${Math.round(ttl.keep / 1000)} SECOND`;
}

export interface TableShape {
  columns: [string, string, string?][]; // name, type, `DEFAULT …` or `ALIAS …`
  engine: string;
  orderBy: string[];
  partitionBy?: string;
  ttl?: { column: string; keep: number };
  settings?: Record<string, unknown>;
}

export function createTable(t: Target, name: string, shape: TableShape): string {
  const columns = shape.columns.map(([c, type, clause]) =>
    `${q(c)} ${type}${clause ? ` ${clause}` : ""}`
  );
  return `CREATE TABLE IF NOT EXISTS ${q(t.database)}.${q(name)}${onCluster(t)} (${
    columns.join(", ")
  })` +
    ` ENGINE = ${engineFor(shape.engine, t)}` +
    (shape.partitionBy ? ` PARTITION BY ${shape.partitionBy}` : "") +
    ` ORDER BY (${shape.orderBy.map(q).join(", ")})` +
    ttlClause(shape.ttl) +
    settingsFor(shape.engine, shape.settings, t);
}

/**
 * Where a readings table keeps its `stored: per_batch` columns: one JSON object per batch
 * (column name → value) in a LowCardinality column, so a batch of 100 000 rows stores one
 * dictionary entry where 24 columns would each store (and parse, and merge) 100 000 copies.
 * Each such column is an ALIAS reading its value back, so it is still queried by name (like
 * every ALIAS column, it is left out of `SELECT *`).
 */
export const BATCH_FIELDS = "_batch_fields";
export const BATCH_FIELDS_TYPE = "LowCardinality(String)";

/** The columns a readings table keeps once per batch, as [column, field, type]. */
export function perBatchColumns(table: ReadingsTable): [string, string, string][] {
  return Object.entries(table.columns).filter(([, c]) => c.stored === "per_batch").map((
    [name, c],
  ) => [name, c.value.slice("fields.".length), c.type]);
}

/** A per-batch column's value, read from the batch's JSON object. */
export function perBatchAlias(column: string, type: string): string {
  const inner = type.trim().replace(/^LowCardinality\((.*)\)$/, "$1");
  return `JSONExtract(${q(BATCH_FIELDS)}, ${literal(column)}, ${literal(inner)})`;
}

/**
 * The columns of a readings table: what the sink writes, `ingested_at` left to the store's
 * clock, per-batch columns as ALIAS columns over BATCH_FIELDS (which takes the place of the
 * first of them).
 */
export function readingsShape(table: ReadingsTable): TableShape {
  const columns: TableShape["columns"] = [];
  for (const [name, c] of Object.entries(table.columns)) {
    if (c.stored === "per_batch") {
      if (!columns.some(([n]) => n === BATCH_FIELDS)) {
        columns.push([BATCH_FIELDS, BATCH_FIELDS_TYPE]);
      }
      columns.push([name, c.type, `ALIAS ${perBatchAlias(name, c.type)}`]);
    } else {
      columns.push(c.value === "ingested_at" ? [name, c.type, "DEFAULT now64(3)"] : [name, c.type]);
    }
  }
  return {
    columns,
    engine: table.engine,
    orderBy: table.order_by,
    partitionBy: table.partition_by,
    ttl: table.ttl,
    settings: table.settings,
  };
}

function derivedShape(table: DerivedTable): TableShape {
  return {
    columns: Object.entries(table.columns).map(([name, c]) => [name, c.type]),
    engine: table.engine,
    orderBy: table.order_by,
    partitionBy: table.partition_by,
    ttl: table.ttl,
    settings: table.settings,
  };
}

export const COMPUTED_AT = "_computed_at";

function aggregationShape(agg: Aggregation, input: AggregationInput): TableShape {
  const site = input.site;
  return {
    columns: [
      ...(site ? [[site, input.columns[site]!] as [string, string]] : []),
      [agg.tag_column, input.columns[agg.tag_column]!],
      [agg.bucket_column, "DateTime('UTC')"],
      ...Object.entries(agg.columns).map(([name, c]) => [name, c.type] as [string, string]),
      [COMPUTED_AT, "DateTime64(3, 'UTC')"],
    ],
    engine: `ReplacingMergeTree(${q(COMPUTED_AT)})`,
    orderBy: [...(site ? [site] : []), agg.tag_column, agg.bucket_column],
    partitionBy: `toYYYYMM(${q(agg.bucket_column)})`,
    ttl: agg.ttl ? { column: agg.bucket_column, keep: agg.ttl } : undefined,
    settings: agg.settings,
  };
}

/** The tag column of a readings table (the one holding `value: tag`). */
export function tagColumnOf(table: ReadingsTable): string | undefined {
  return Object.entries(table.columns).find(([, c]) => c.value === "tag")?.[0];
}

export function timeColumnOf(table: ReadingsTable): string | undefined {
  return Object.entries(table.columns).find(([, c]) => c.value === "time")?.[0];
}

/**
 * The SELECT of a derived table's materialized view. Expressions are computed in an inner
 * query under neutral names, so a column named like a source column cannot shadow it.
 */
export function derivedSelect(
  t: Target,
  pipeline: string,
  table: DerivedTable,
  model: StorageModel,
): string {
  const source = model.tables[table.from]!;
  const exprs = Object.values(table.columns).map((c, i) => `${c.expr} AS __c${i}`);
  let from = `${q(t.database)}.${q(table.from)} AS r`;
  if (table.join === "assets") {
    const tag = isReadingsTable(source) ? tagColumnOf(source) : undefined;
    if (!tag) throw new Error(`table ${table.from} has no tag column to join the asset model on`);
    from += ` INNER JOIN (SELECT * FROM ${q(t.database)}.${
      q(assetsTable(pipeline, model))
    } FINAL) AS a ON a.tag = r.${q(tag)}`;
    const site = siteColumnOf(source);
    if (site && metadataColumns(model).some(([c]) => c === "source")) {
      from += ` AND a.source = r.${q(site)}`;
    }
  }
  const outer = Object.keys(table.columns).map((name, i) => `__c${i} AS ${q(name)}`);
  return `SELECT ${outer.join(", ")} FROM (SELECT ${exprs.join(", ")} FROM ${from})`;
}

/** One DDL statement, with what drift detection needs to compare it with what exists. */
export interface Ddl {
  name: string;
  kind: "database" | "table" | "view";
  sql: string;
  /** For tables: the same definition under another name, without cluster (a scratch copy). */
  shape?: TableShape;
  /** For views: the SELECT they run. */
  select?: string;
}

function tableDdl(t: Target, name: string, shape: TableShape): Ddl {
  return { name, kind: "table", sql: createTable(t, name, shape), shape };
}

/** Every DDL statement of a model, in dependency order. */
export function modelDdl(t: Target, pipeline: string, model: StorageModel): Ddl[] {
  const out: Ddl[] = [];
  out.push({
    name: t.database,
    kind: "database",
    sql: `CREATE DATABASE IF NOT EXISTS ${q(t.database)}${onCluster(t)}`,
  });
  out.push(...stateDdl(t));
  if (model.assets) {
    const columns: [string, string][] = [
      ["tag", "String"],
      ...model.assets.columns.map((c) => [c, "LowCardinality(String)"] as [string, string]),
      ...metadataColumns(model),
    ];
    // One row per site and tag, for good (no TTL): the latest version of each wins. `source`
    // holds the site, so pipelines of several sites can share the dimension.
    const key = columns.some(([c]) => c === "source") ? ["source", "tag"] : ["tag"];
    out.push(tableDdl(t, assetsTable(pipeline, model), {
      columns: [...columns, ["_version", "DateTime64(3, 'UTC')", "DEFAULT now64(3)"]],
      engine: "ReplacingMergeTree(_version)",
      orderBy: key,
    }));
  }
  const ordered = orderTables(model);
  for (const [name, table] of ordered) {
    out.push(
      tableDdl(t, name, isReadingsTable(table) ? readingsShape(table) : derivedShape(table)),
    );
  }
  for (const [name, table] of ordered) {
    if (isReadingsTable(table)) continue;
    const select = derivedSelect(t, pipeline, table, model);
    out.push({
      name: `${name}__mv`,
      kind: "view",
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${q(t.database)}.${q(`${name}__mv`)}${
        onCluster(t)
      } TO ${q(t.database)}.${q(name)} AS ${select}`,
      select,
    });
  }
  for (const [name, agg] of orderedAggregations(model)) {
    out.push(tableDdl(t, name, aggregationShape(agg, aggregationInput(model, agg.from)!)));
  }
  return out;
}

/** Tables with their sources first, so a materialized view never points at a missing table. */
function orderTables(model: StorageModel): [string, Table][] {
  const done = new Set<string>();
  const out: [string, Table][] = [];
  const visit = (name: string, seen: string[]) => {
    if (done.has(name)) return;
    if (seen.includes(name)) {
      throw new Error(`tables derive from each other in a cycle: ${[...seen, name].join(" → ")}`);
    }
    const table = model.tables[name]!;
    if (!isReadingsTable(table)) visit(table.from, [...seen, name]);
    done.add(name);
    out.push([name, table]);
  };
  for (const name of Object.keys(model.tables)) visit(name, []);
  return out;
}

export function stateDdl(t: Target): Ddl[] {
  return [
    tableDdl(t, STATE_TABLES.watermarks, {
      columns: [
        ["pipeline", "LowCardinality(String)"],
        ["tag", "String"],
        ["watermark", "DateTime64(7, 'UTC')"],
        ["updated_at", "DateTime64(6, 'UTC')", "DEFAULT now64(6)"],
      ],
      engine: "ReplacingMergeTree(updated_at)",
      orderBy: ["pipeline", "tag"],
    }),
    tableDdl(t, STATE_TABLES.units, {
      columns: [
        ["pipeline", "LowCardinality(String)"],
        ["unit", "String"],
        ["rows", "UInt64"],
        ["finished_at", "DateTime64(3, 'UTC')", "DEFAULT now64(3)"],
      ],
      engine: "ReplacingMergeTree(finished_at)",
      orderBy: ["pipeline", "unit"],
    }),
    tableDdl(t, STATE_TABLES.runs, {
      columns: [
        ["pipeline", "LowCardinality(String)"],
        ["id", "String"],
        ["kind", "LowCardinality(String)"],
        ["started", "DateTime64(3, 'UTC')"],
        ["finished", "DateTime64(3, 'UTC')"],
        ["rows", "UInt64"],
        ["status", "LowCardinality(String)"],
        ["error", "String"],
      ],
      engine: "MergeTree",
      orderBy: ["pipeline", "started"],
      ttl: { column: "started", keep: 90 * 86_400_000 },
    }),
  ];
}
