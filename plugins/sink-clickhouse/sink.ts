/**
 * The ClickHouse sink's writer: prepares the storage model, writes batches exactly once and
 * commits units. State and queries are capabilities of their own (state.ts, query.ts).
 *
 * Exactly once, layer by layer:
 * - every insert carries a content-hash `insert_deduplication_token` and the tables keep a
 *   deduplication window, so a retried or replayed insert is stored once (_client.ts);
 * - readings already stored identically are skipped before inserting (a late-data re-read or an
 *   overlapping window stores only what is new or changed), and raw tables are
 *   ReplacingMergeTree, so a revised point replaces the stored one;
 * - rows a unit attempt's writes hold (encoded, up to its share of memory) are inserted before
 *   its commit does anything else; an attempt that fails is released and redone whole;
 * - a commit recomputes the unit's aggregates from the deduplicated raw rows, then records the
 *   unit: repeating it after a crash at any point gives the same result (aggregates.ts).
 */
import { isReadingsTable, pendingSteps, PluginError, siteColumnOf } from "../../engine/mod.ts";
import type {
  AssetRow,
  Counts,
  Logger,
  Reading,
  ReadingBatch,
  Sink,
  StorageModel,
  Ticks,
  TimeWindow,
  UnitCommit,
  WriteOptions,
  WriteResult,
} from "../../engine/mod.ts";
import { aggregateSql } from "./aggregates.ts";
import type { AggregateSql } from "./aggregates.ts";
import { command, insertBytes, NO_INSERT_MERGE, reasonOf, rows } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { PLUGIN } from "./_client.ts";
import {
  assetsTable,
  metadataColumns,
  modelDdl,
  q,
  supportsFinal,
  tagColumnOf,
  timeColumnOf,
} from "./ddl.ts";
import { createMigrate, planMigration, planOf, refusal } from "./migrate.ts";
import type { Ddl } from "./ddl.ts";
import { chTime, encodeRows, insertShape, planColumns } from "./insert.ts";
import type { ColumnPlan, InsertShape } from "./insert.ts";
import type { ClickHouseSettings } from "@clickhouse/client";
import { encoderFor, RowWriter } from "./rowbinary.ts";
import { explainModel } from "./explain.ts";
import { createQueries } from "./query.ts";
import { createState, recordUnit } from "./state.ts";
import { prepareSummaries, recomputeSummaries, setSummaryTags } from "./summaries.ts";
import type { PreparedSummaries } from "./summaries.ts";

interface PreparedTable {
  name: string;
  plans: ColumnPlan[];
  tagColumn?: string;
  timeColumn?: string;
  /** Where sites share the table: what is read back and counted is this site's rows only. */
  siteColumn?: string;
  final: boolean;
}

interface Prepared {
  pipeline: string;
  site: string;
  tables: PreparedTable[];
  aggregations: AggregateSql[];
  assetColumns: string[];
  assetsTable: string;
  metadata: [string, string][];
  /** Whether the model has an asset dimension (rows from discovery go there). */
  hasAssets: boolean;
  summaries?: PreparedSummaries;
}

export interface SinkDeps {
  conn: Conn;
  /** For the query capability (the API's queries): a read-only user where there is one. */
  readerConn?: Conn;
  log: Logger;
  onClose?: () => Promise<void>;
  /** The spec file, for the command a refusal names (`deno task migrate <spec>`). */
  spec?: string;
}

export function createSink(deps: SinkDeps): Sink {
  const { conn, log } = deps;
  const { db, target } = conn;
  let prepared: Prepared | undefined;
  const held: HeldUnits = new Map();
  const writers = new Writers();
  const need = (): Prepared => {
    if (!prepared) throw new PluginError(PLUGIN, "prepare() must run before writes");
    return prepared;
  };

  return {
    async prepare(model: StorageModel, pipeline: string) {
      const ddl = modelDdl(target, pipeline, model);
      await command(conn, `creating database ${target.database}`, ddl[0]!.sql);
      // What differs, and what migrate would do about it (a new aggregation to fill included).
      const { problems, planned } = await planMigration(conn, model, pipeline);
      problems.push(...await leftovers(conn, ddl, problems));
      const plan = planOf(conn, planned);
      if (problems.length > 0 || pendingSteps(plan).length > 0) {
        throw new PluginError(PLUGIN, refusal(target.database, problems, plan, deps.spec), {
          reason: "invalid",
        });
      }
      for (const statement of ddl.slice(1)) {
        await command(conn, `creating ${statement.name}`, statement.sql);
      }
      prepared = prepareModel(db, model, pipeline);
      log.info("ClickHouse tables ready", { database: target.database, statements: ddl.length });
    },

    async setAssets(assets: AssetRow[]) {
      const p = need();
      if (assets.length === 0) return;
      if (p.summaries) await setSummaryTags(conn, p.summaries, assets);
      if (!p.hasAssets) return;
      const w = new RowWriter();
      const nullableFloat = encoderFor("Nullable(Float64)");
      const meta = p.metadata.map(([c]) => c);
      for (const row of assets) {
        w.string(row.tag);
        for (const c of p.assetColumns) w.string(row.attributes[c] ?? "");
        for (const c of meta) {
          if (c === "min" || c === "max") nullableFloat(w, row[c]);
          else w.string(String(row[c as "description" | "unit" | "type" | "source"] ?? ""));
        }
      }
      const columns = ["tag", ...p.assetColumns, ...meta].map(q).join(", ");
      await insertBytes(conn, {
        what: "writing the asset dimension",
        sql: `INSERT INTO ${db}.${q(p.assetsTable)} (${columns}) FORMAT RowBinary`,
        body: w.take(),
        rows: assets.length,
        // The same rows written at every start are a new version each time, not a retry.
        settings: { insert_deduplicate: 0 },
      });
    },

    write: (batch: ReadingBatch, options?: WriteOptions) =>
      writeBatch(conn, need(), held, writers, batch, options),

    async commit(unit: UnitCommit) {
      const p = need();
      // First what the attempt holds; retried, it inserts only what is still held.
      const holding = unit.unit !== undefined ? held.get(unit.unit) : undefined;
      for (const h of holding?.values() ?? []) await flush(conn, h);
      if (unit.unit !== undefined) held.delete(unit.unit);
      for (const h of holding?.values() ?? []) writers.put(h.w);
      // Also when every reading was already stored: an interrupted earlier attempt may have
      // stored them without getting to its commit.
      if (unit.readings > 0) {
        const params = {
          tags: [...unit.tags],
          from: chTime(unit.window.from + 1n),
          to: chTime(unit.window.to),
          site: p.site,
        };
        for (const agg of p.aggregations) {
          await command(conn, `recomputing ${agg.name}`, agg.sql, params, NO_INSERT_MERGE);
        }
      }
      // Also without readings: the horizon moved, so the cycle holding it grew.
      if (p.summaries) {
        await recomputeSummaries(conn, p.summaries, unit.tags, unit.window, p.site);
      }
      if (unit.id !== undefined) await recordUnit(conn, p.pipeline, unit.id, unit.rows);
    },

    // The pipeline's name arrives with prepare(), which runs before any state call.
    state: createState(conn, () => need().pipeline),
    queries: createQueries(deps.readerConn ?? conn),
    counts: {
      count: (tags: readonly string[], window: TimeWindow) =>
        countStored(conn, need(), tags, window),
    },
    explain: {
      explain: (model, pipeline, statements) => explainModel(conn, model, pipeline, statements),
    },
    migrate: createMigrate(conn),

    release(unit: string) {
      held.delete(unit);
    },

    async close() {
      // What is held belongs to attempts that did not commit: they are redone, not lost.
      held.clear();
      await conn.client.close();
      await conn.root.close();
      await deps.onClose?.();
    },
  };
}

/**
 * Rows encoded for one insert, held for a unit attempt until they fill its share of memory or
 * the unit commits: a backfill unit's batches go in as a few large inserts (fewer parts for
 * ClickHouse to write and merge) while the engine holds only small batches of objects.
 */
interface Held {
  shape: InsertShape;
  what: string;
  settings: ClickHouseSettings;
  w: RowWriter;
  rows: number;
  /** The batch appended last: a write() retried after a failed insert does not append it again. */
  last?: ReadingBatch;
}

/** Held rows by unit attempt, then by statement. */
type HeldUnits = Map<string, Map<string, Held>>;

/**
 * Writers whose rows were stored, kept for the next attempts: a buffer reused is not a buffer
 * allocated per insert, which would wait for a full collection and fragment the allocator
 * (measured: 4 workers inserting 4 MB bodies held 130 MB of dead buffers; reused, 17 MB).
 * A writer goes back only after its insert succeeded, so no request can still be reading it.
 */
class Writers {
  #idle: RowWriter[] = [];

  get(limit = Infinity): RowWriter {
    const i = this.#idle.findIndex((w) => w.limit === limit);
    return i === -1 ? new RowWriter(limit) : this.#idle.splice(i, 1)[0]!;
  }

  /** Keeps an emptied writer unless enough are idle or it grew well past its share. */
  put(w: RowWriter) {
    const share = Number.isFinite(w.limit) ? w.limit : 1 << 20;
    if (w.length !== 0 || this.#idle.length >= Writers.KEEP || w.capacity > 2 * share) return;
    this.#idle.push(w);
  }

  /** Idle writers kept: one per worker at the default parallelism. */
  static KEEP = 4;
}

/** Inserts what `h` holds; on success it holds nothing, on failure it still holds it all. */
async function flush(conn: Conn, h: Held): Promise<void> {
  if (h.rows === 0) return;
  await insertBytes(conn, {
    what: `inserting ${h.rows} rows into ${h.what}`,
    sql: h.shape.sql,
    body: h.w.view(),
    rows: h.rows,
    params: h.shape.params,
    settings: h.settings,
  });
  h.w.reset();
  h.rows = 0;
}

/** Stores the readings of a batch that are new or changed, in every readings table. */
async function writeBatch(
  conn: Conn,
  p: Prepared,
  held: HeldUnits,
  writers: Writers,
  batch: ReadingBatch,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const readings = batch.readings;
  if (readings.length === 0) return { written: 0, skipped: 0 };
  const tags = [...new Set(readings.map((r) => r.tag))];
  const [from, to] = span(readings);
  let result: WriteResult | undefined;
  for (const t of p.tables) {
    const compare = compared(t.plans, readings);
    const stored = options.fresh
      ? new Set<string>()
      : await existing(conn, t, compare, tags, from, to, p.site);
    const fresh = stored.size === 0
      ? readings
      : readings.filter((r) => !stored.has(signature(compare, r)));
    result ??= { written: fresh.length, skipped: readings.length - fresh.length };
    if (fresh.length === 0) continue;
    // A repair writes rows found missing: an identical insert may have been deduplicated before.
    const settings: ClickHouseSettings = options.repair ? { insert_deduplicate: 0 } : {};
    const invalid = (e: unknown) =>
      new PluginError(
        PLUGIN,
        `inserting ${fresh.length} rows into ${t.name} failed: ${reasonOf(e)}`,
        { cause: e, reason: "invalid" },
      );
    let shape: InsertShape;
    try {
      shape = insertShape(`${conn.db}.${q(t.name)}`, t.plans, fresh[0], batch.fields);
    } catch (e) {
      throw invalid(e);
    }
    const h = heldFor(
      held,
      writers,
      options.unit,
      { shape, what: t.name, settings },
      options.holdBytes,
    );
    let added = 0;
    if (h.last !== batch) {
      const before = h.w.length;
      try {
        // This batch's own shape: the held one's statement, with this batch's fields.
        encodeRows(h.w, shape, fresh);
      } catch (e) {
        h.w.truncate(before);
        throw invalid(e);
      }
      h.rows += fresh.length;
      h.last = batch;
      added = h.w.length - before;
    }
    if (!options.unit) {
      await flush(conn, h);
      writers.put(h.w);
    } else if (h.w.length + added > (options.holdBytes ?? 0)) {
      // Stored before the next batch like this one would cross the share: the buffer stays
      // within it.
      await flush(conn, h);
    }
  }
  return result ?? { written: 0, skipped: 0 };
}

/**
 * Where a batch's rows go: the attempt's held rows for the same statement, or (no unit given)
 * a writer of their own, inserted at once.
 */
function heldFor(
  held: HeldUnits,
  writers: Writers,
  unit: string | undefined,
  insert: Pick<Held, "shape" | "what" | "settings">,
  holdBytes?: number,
): Held {
  // Sized to the share (plus the batch that crosses it), not to the next power of two.
  const make = (): Held => ({ ...insert, w: writers.get(holdBytes), rows: 0 });
  if (unit === undefined) return make();
  const key = [insert.what, insert.shape.sql, JSON.stringify(insert.shape.params)].join("\u0000") +
    JSON.stringify(insert.settings);
  let statements = held.get(unit);
  if (!statements) held.set(unit, statements = new Map());
  let h = statements.get(key);
  if (!h) statements.set(key, h = make());
  return h;
}

/**
 * A table that differs and still has the materialized view that used to fill it (`<name>__mv`,
 * which the spec no longer declares) is a copy from an older model — MachineData used to copy
 * every placed reading: say exactly what to drop.
 */
async function leftovers(conn: Conn, ddl: Ddl[], problems: string[]): Promise<string[]> {
  if (problems.length === 0) return [];
  const views = await rows<{ name: string }>(
    conn,
    "listing views",
    "SELECT name FROM system.tables WHERE database = {d:String} AND engine = 'MaterializedView'",
    { d: conn.target.database },
  );
  const declared = new Set(ddl.map((d) => d.name));
  return ddl.filter((d) =>
    d.kind === "table" && problems.some((p) => p.startsWith(d.name)) &&
    views.some((v) => v.name === `${d.name}__mv`) && !declared.has(`${d.name}__mv`)
  ).map((d) =>
    `${d.name} is a per-reading copy left from an older model: drop it with DROP VIEW ${conn.db}.${
      q(`${d.name}__mv`)
    }; DROP TABLE ${conn.db}.${q(d.name)}; then start again: it is rebuilt from discovery`
  );
}

/** Stored readings per tag in `(from, to]`, deduplicated, from the first readings table. */
async function countStored(
  conn: Conn,
  p: Prepared,
  tags: readonly string[],
  window: TimeWindow,
): Promise<Counts> {
  const t = p.tables.find((t) => t.tagColumn && t.timeColumn);
  if (!t) {
    throw new PluginError(PLUGIN, "no readings table has a tag and a time column to count by");
  }
  const found = await rows<{ tag: string; n: string }>(
    conn,
    `counting stored rows of ${t.name}`,
    `SELECT ${q(t.tagColumn!)} AS tag, count() AS n FROM ${conn.db}.${q(t.name)}${
      t.final ? " FINAL" : ""
    } WHERE ${siteFilter(t)}${q(t.tagColumn!)} IN {tags:Array(String)} AND ${
      q(t.timeColumn!)
    } > {from:DateTime64(7, 'UTC')} AND ${
      q(t.timeColumn!)
    } <= {to:DateTime64(7, 'UTC')} GROUP BY tag SETTINGS do_not_merge_across_partitions_select_final = 1`,
    { tags: [...tags], from: chTime(window.from), to: chTime(window.to), site: p.site },
  );
  return new Map(found.map((r) => [r.tag, Number(r.n)]));
}

/** `<site column> = {site:String} AND `, where sites share the table. */
function siteFilter(t: PreparedTable): string {
  return t.siteColumn ? `${q(t.siteColumn)} = {site:String} AND ` : "";
}

/** Keys of the stored rows of `t` for `tags` in [from, to], with the compared columns. */
async function existing(
  conn: Conn,
  t: PreparedTable,
  compare: ColumnPlan[],
  tags: string[],
  from: Ticks,
  to: Ticks,
  site: string,
): Promise<Set<string>> {
  if (!t.tagColumn || !t.timeColumn) return new Set();
  const sql =
    `SELECT ${q(t.tagColumn)} AS t, toString(intDiv(toUnixTimestamp64Nano(${
      q(t.timeColumn)
    }), 100)) AS k` +
    compare.map((c, i) => `, ${q(c.name)} AS c${i}`).join("") +
    ` FROM ${conn.db}.${q(t.name)}${t.final ? " FINAL" : ""}` +
    ` WHERE ${siteFilter(t)}${q(t.tagColumn)} IN {tags:Array(String)} AND ${
      q(t.timeColumn)
    } BETWEEN {from:DateTime64(7, 'UTC')} AND {to:DateTime64(7, 'UTC')}`;
  const found = await rows<Record<string, unknown>>(
    conn,
    `reading stored rows of ${t.name}`,
    sql,
    { tags, from: chTime(from), to: chTime(to), site },
  );
  return new Set(
    found.map((r) =>
      `${r.t}\u0000${r.k}\u0000${JSON.stringify(compare.map((_, i) => r[`c${i}`]))}`
    ),
  );
}

/** The earliest and latest time of a batch. */
function span(readings: readonly Reading[]): [Ticks, Ticks] {
  let from = readings[0]!.time;
  let to = from;
  for (const r of readings) {
    if (r.time < from) from = r.time;
    if (r.time > to) to = r.time;
  }
  return [from, to];
}

/** The columns that tell an identical stored reading: reading parts and per-row fields. */
function compared(plans: ColumnPlan[], readings: readonly Reading[]): ColumnPlan[] {
  const rowFields = new Set(Object.keys(readings[0]?.fields ?? {}));
  return plans.filter((p) =>
    p.part ? p.part !== "tag" && p.part !== "time" : rowFields.has(p.field!)
  );
}

function signature(compare: ColumnPlan[], r: Reading): string {
  return `${r.tag}\u0000${r.time}\u0000${
    JSON.stringify(compare.map((c) => (c.part ? r[c.part] : r.fields?.[c.field!]) ?? null))
  }`;
}

function prepareModel(db: string, model: StorageModel, pipeline: string): Prepared {
  const site = model.site ?? pipeline;
  const tables: PreparedTable[] = [];
  for (const [name, table] of Object.entries(model.tables)) {
    if (!isReadingsTable(table)) continue;
    tables.push({
      name,
      plans: planColumns(name, table, site),
      tagColumn: tagColumnOf(table),
      timeColumn: timeColumnOf(table),
      siteColumn: siteColumnOf(table),
      final: supportsFinal(table.engine),
    });
  }
  return {
    pipeline,
    site,
    tables,
    aggregations: aggregateSql(db, model),
    assetColumns: model.assets?.columns ?? [],
    assetsTable: assetsTable(pipeline, model),
    metadata: metadataColumns(model),
    hasAssets: model.assets !== undefined,
    summaries: prepareSummaries(db, model),
  };
}
