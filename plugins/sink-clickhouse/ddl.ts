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
  storedColumnOf,
} from "../../engine/mod.ts";
import { summaryDdl } from "./summaries.ts";
import {
  CLUSTER_DEFAULTS,
  localName,
  replicaArgs,
  replicatedSettings,
  shardingExpr,
} from "./cluster.ts";
import type { ClusterLayout, Placement } from "./cluster.ts";
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
  /**
   * With a cluster: ON CLUSTER DDL, Replicated `<name>_local` tables with Distributed ones in
   * front, small tables copied whole to every node (cluster.ts).
   */
  cluster?: string;
  /** How tables are placed on the cluster; CLUSTER_DEFAULTS where absent. */
  layout?: Omit<ClusterLayout, "name">;
  /** Tables kept on a storage policy and moved between its volumes as they age. */
  tiering?: Tiering;
}

/** `TTL … TO VOLUME` tiering: per table, the volumes its rows move to, oldest last. */
export interface Tiering {
  policy: string;
  tables: Record<string, { after: number; volume: string }[]>;
}

/** The cluster layout of a target with a cluster. */
export function layoutOf(t: Target): ClusterLayout {
  return { ...CLUSTER_DEFAULTS, ...t.layout, name: t.cluster ?? "" };
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

/** The engine on the target: on a cluster, the Replicated engine with its Keeper path and replica. */
function engineFor(engine: string, t: Target, placement: Placement): string {
  if (!t.cluster || !MERGE_TREE_FAMILY.test(engine)) return engine;
  const [, family, args] = /^(\w+)\s*(?:\((.*)\))?\s*$/s.exec(engine.trim())!;
  const [path, replica] = replicaArgs(layoutOf(t), placement);
  const rest = args?.trim() ? `, ${args.trim()}` : "";
  return `Replicated${family}(${literal(path)}, ${literal(replica)}${rest})`;
}

function settingsFor(engine: string, declared: Record<string, unknown> | undefined, t: Target) {
  const settings: Record<string, unknown> = { ...declared };
  // The sink's exactly-once rests on the replicated deduplication window: set, not left to the
  // server's configuration (cluster.ts).
  if (t.cluster && MERGE_TREE_FAMILY.test(engine)) {
    for (const [k, v] of Object.entries(replicatedSettings(layoutOf(t)))) {
      if (!(k in settings)) settings[k] = v;
    }
  }
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

/** `TTL`: moves to cheaper volumes first, then the delete (ClickHouse's default action). */
function ttlClause(ttl: { column: string; keep: number } | undefined, moves: Move[] = []) {
  const rules = [
    ...moves.map((m) => `${aged(m.column, m.after)} TO VOLUME ${literal(m.volume)}`),
    ...(ttl ? [aged(ttl.column, ttl.keep)] : []),
  ];
  return rules.length ? ` TTL ${rules.join(", ")}` : "";
}

/** `column + INTERVAL …`, in days where `ms` is whole days. */
function aged(column: string, ms: number): string {
  const days = ms / 86_400_000;
  return Number.isInteger(days)
    ? `${q(column)} + INTERVAL ${days} DAY`
    : `${q(column)} + INTERVAL ${Math.round(ms / 1000)} SECOND`;
}

/** Rows of a table move to `volume` once `column` is `after` old. */
export interface Move {
  column: string;
  after: number;
  volume: string;
}

export interface TableShape {
  columns: [string, string, string?][]; // name, type, `DEFAULT …`, `ALIAS …` and/or `CODEC(…)`
  /**
   * Readings tables: columns the spec computes from others that older models stored (for
   * migrate): `stored: alias` columns by the column they read, `stored: unless_value` ones by
   * the column keeping their text and the number's column.
   */
  computed?: Record<string, { alias: string } | { text: string; value: string }>;
  engine: string;
  orderBy: string[];
  partitionBy?: string;
  ttl?: { column: string; keep: number };
  /** A TTL clause of its own (` TTL …`), for rules `ttl` cannot say (one per resolution). */
  ttlSql?: string;
  /** Moves to other volumes of the table's storage policy, before `ttl` deletes. */
  moves?: Move[];
  settings?: Record<string, unknown>;
}

/**
 * One CREATE TABLE. On a cluster the engine is Replicated, with the Keeper path of a sharded
 * table (`placement` sharded or filled: the caller names it `<name>_local`) or of a full copy.
 */
export function createTable(
  t: Target,
  name: string,
  shape: TableShape,
  placement: Placement = { kind: "copy" },
): string {
  const columns = shape.columns.map(([c, type, clause]) =>
    `${q(c)} ${type}${clause ? ` ${clause}` : ""}`
  );
  return `CREATE TABLE IF NOT EXISTS ${q(t.database)}.${q(name)}${onCluster(t)} (${
    columns.join(", ")
  })` +
    ` ENGINE = ${engineFor(shape.engine, t, placement)}` +
    (shape.partitionBy ? ` PARTITION BY ${shape.partitionBy}` : "") +
    ` ORDER BY (${shape.orderBy.map(q).join(", ")})` +
    (shape.ttlSql ?? ttlClause(shape.ttl, shape.moves)) +
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

/** A column's `CODEC(…)` clause ("" for the store's default compression). */
export const codecClause = (codec: string | undefined) => codec ? `CODEC(${codec.trim()})` : "";

/** Where a `stored: unless_value` column keeps the texts that are not its row's number. */
export const textColumn = (column: string) => `_${column}`;

/**
 * A `stored: unless_value` column's value from what insert.ts keptText() stores: the kept text
 * where the row has no number; the number's text where nothing is kept; NULL where the number's
 * text is kept (the row had a number and no text); else the kept text.
 */
export function unlessValueAlias(text: string, value: string): string {
  const [t, v] = [q(text), q(value)];
  return `multiIf(isNull(${v}), ${t}, isNull(${t}), toString(${v}), ${t} = toString(${v}), NULL, ${t})`;
}

/**
 * The columns of a readings table: what the sink writes, `ingested_at` left to the store's
 * clock, per-batch columns as ALIAS columns over BATCH_FIELDS (which takes the place of the
 * first of them), `alias` columns reading the column that stores their part, `unless_value`
 * columns as an ALIAS over the texts kept in textColumn() (which precedes it).
 */
export function readingsShape(table: ReadingsTable): TableShape {
  const columns: TableShape["columns"] = [];
  const computed: NonNullable<TableShape["computed"]> = {};
  for (const [name, c] of Object.entries(table.columns)) {
    const codec = codecClause(c.codec);
    if (c.stored === "per_batch") {
      if (!columns.some(([n]) => n === BATCH_FIELDS)) {
        columns.push([BATCH_FIELDS, BATCH_FIELDS_TYPE]);
      }
      columns.push([name, c.type, `ALIAS ${perBatchAlias(name, c.type)}`]);
    } else if (c.stored === "alias") {
      const of = storedColumnOf(table, c.value)!;
      columns.push([name, c.type, `ALIAS ${q(of)}`]);
      computed[name] = { alias: of };
    } else if (c.stored === "unless_value") {
      const text = textColumn(name);
      const value = storedColumnOf(table, "value")!;
      columns.push([text, c.type, codec]);
      columns.push([name, c.type, `ALIAS ${unlessValueAlias(text, value)}`]);
      computed[name] = { text, value };
    } else {
      const clause = [c.value === "ingested_at" ? "DEFAULT now64(3)" : "", codec];
      columns.push([name, c.type, clause.filter(Boolean).join(" ")]);
    }
  }
  return {
    columns,
    computed,
    engine: table.engine,
    orderBy: table.order_by,
    partitionBy: table.partition_by,
    ttl: table.ttl,
    settings: table.settings,
  };
}

function derivedShape(table: DerivedTable): TableShape {
  return {
    columns: Object.entries(table.columns).map(([name, c]) => [name, c.type, codecClause(c.codec)]),
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
      ...Object.entries(agg.columns).map((
        [name, c],
      ) => [name, c.type, codecClause(c.codec)] as [string, string, string]),
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
  return storedColumnOf(table, "tag");
}

/** The time column of a readings table (the one storing `value: time`, not an alias of it). */
export function timeColumnOf(table: ReadingsTable): string | undefined {
  return storedColumnOf(table, "time");
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
  // On a cluster the view fires on each shard's inserts: it reads the shard-local rows.
  let from = `${q(t.database)}.${q(rowsOf(t, model, table.from))} AS r`;
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
  /** `distributed`: a cluster's Distributed table in front of `<name>_local`. */
  kind: "database" | "table" | "view" | "distributed";
  sql: string;
  /** For tables: the same definition under another name, without cluster (a scratch copy). */
  shape?: TableShape;
  /** For views: the SELECT they run. */
  select?: string;
  /** For Distributed tables: their ENGINE clause. */
  engine?: string;
}

/**
 * A table's statements: one CREATE, or on a cluster, for a table placed by shard, the
 * Replicated `<name>_local` and the Distributed `<name>` in front of it (cluster.ts).
 */
export function tableDdl(
  t: Target,
  name: string,
  shape: TableShape,
  placement: Placement = { kind: "copy" },
): Ddl[] {
  if (!t.cluster || placement.kind === "copy") {
    return [{ name, kind: "table", sql: createTable(t, name, shape, placement), shape }];
  }
  const local = localName(name);
  // A table filled per shard by its view gets no key: nothing inserts through it.
  const key = placement.kind === "sharded"
    ? `, ${shardingExpr(layoutOf(t).shardingKey, placement, q)}`
    : "";
  const engine = `Distributed(${literal(t.cluster)}, ${literal(t.database)}, ${
    literal(local)
  }${key})`;
  const db = q(t.database);
  return [
    { name: local, kind: "table", sql: createTable(t, local, shape, placement), shape },
    {
      name,
      kind: "distributed",
      sql: `CREATE TABLE IF NOT EXISTS ${db}.${q(name)}${onCluster(t)} AS ${db}.${
        q(local)
      } ENGINE = ${engine}`,
      engine,
    },
  ];
}

/**
 * How a table of the model is placed on a cluster: readings tables and aggregations by the hash
 * of their (site, tag), derived tables where their source rows are (their view fills them per
 * shard), a table without a tag column copied whole.
 */
export function placementOf(model: StorageModel, name: string, seen: string[] = []): Placement {
  const table = model.tables[name];
  if (table && !seen.includes(name)) {
    if (isReadingsTable(table)) {
      const tag = tagColumnOf(table);
      return tag ? { kind: "sharded", tag, site: siteColumnOf(table) } : { kind: "copy" };
    }
    return placementOf(model, table.from, [...seen, name]).kind === "copy"
      ? { kind: "copy" }
      : { kind: "filled" };
  }
  const agg = model.aggregations[name];
  if (agg) {
    return { kind: "sharded", tag: agg.tag_column, site: aggregationInput(model, agg.from)?.site };
  }
  return { kind: "copy" };
}

/** The table holding a model table's rows on each node: `<name>_local` where it is sharded. */
function rowsOf(t: Target, model: StorageModel, name: string): string {
  return t.cluster && placementOf(model, name).kind !== "copy" ? localName(name) : name;
}

/** The shape with the target's tiering for `name`: its storage policy and moves by `column`. */
function tiered(t: Target, name: string, shape: TableShape, column?: string): TableShape {
  const moves = t.tiering?.tables[name];
  if (!moves?.length || !column) return shape;
  return {
    ...shape,
    moves: moves.map((m) => ({ column, ...m })),
    settings: { ...shape.settings, storage_policy: t.tiering!.policy },
  };
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
    out.push(...tableDdl(t, assetsTable(pipeline, model), {
      columns: [...columns, ["_version", "DateTime64(3, 'UTC')", "DEFAULT now64(3)"]],
      engine: "ReplacingMergeTree(_version)",
      orderBy: key,
    }));
  }
  const ordered = orderTables(model);
  for (const [name, table] of ordered) {
    const shape = isReadingsTable(table) ? readingsShape(table) : derivedShape(table);
    const time = table.ttl?.column ?? (isReadingsTable(table) ? timeColumnOf(table) : undefined);
    out.push(...tableDdl(t, name, tiered(t, name, shape, time), placementOf(model, name)));
  }
  for (const [name, table] of ordered) {
    if (isReadingsTable(table)) continue;
    const select = derivedSelect(t, pipeline, table, model);
    out.push({
      name: `${name}__mv`,
      kind: "view",
      sql: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${q(t.database)}.${q(`${name}__mv`)}${
        onCluster(t)
      } TO ${q(t.database)}.${q(rowsOf(t, model, name))} AS ${select}`,
      select,
    });
  }
  for (const [name, agg] of orderedAggregations(model)) {
    const shape = aggregationShape(agg, aggregationInput(model, agg.from)!);
    out.push(
      ...tableDdl(t, name, tiered(t, name, shape, agg.bucket_column), placementOf(model, name)),
    );
  }
  out.push(...summaryDdl(t, model));
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
    ...tableDdl(t, STATE_TABLES.watermarks, {
      columns: [
        ["pipeline", "LowCardinality(String)"],
        ["tag", "String"],
        ["watermark", "DateTime64(7, 'UTC')"],
        ["updated_at", "DateTime64(6, 'UTC')", "DEFAULT now64(6)"],
      ],
      engine: "ReplacingMergeTree(updated_at)",
      orderBy: ["pipeline", "tag"],
    }),
    ...tableDdl(t, STATE_TABLES.units, {
      columns: [
        ["pipeline", "LowCardinality(String)"],
        ["unit", "String"],
        ["rows", "UInt64"],
        ["finished_at", "DateTime64(3, 'UTC')", "DEFAULT now64(3)"],
      ],
      engine: "ReplacingMergeTree(finished_at)",
      orderBy: ["pipeline", "unit"],
    }),
    ...tableDdl(t, STATE_TABLES.runs, {
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
