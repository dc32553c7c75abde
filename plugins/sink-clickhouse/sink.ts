/**
 * The ClickHouse sink over @clickhouse/client: prepares the storage model, writes batches
 * exactly once, keeps the pipeline's state, and runs declared queries with typed parameters.
 *
 * Exactly once, layer by layer:
 * - every insert carries `insert_deduplication_token` = SHA-256 of its bytes, and the tables
 *   keep a deduplication window, so a retried or replayed insert is stored once, in the raw
 *   table and in the materialized views that hang off it;
 * - readings already stored identically are skipped before inserting (a late-data re-read or an
 *   overlapping window stores only what is new or changed), and raw tables are
 *   ReplacingMergeTree, so a revised point replaces the stored one;
 * - aggregations are recomputed by ClickHouse (INSERT … SELECT … FINAL) for exactly the tags and
 *   buckets a write touched, into ReplacingMergeTree tables: a bucket is always a function of
 *   the deduplicated raw rows, whatever was retried.
 */
import type { ClickHouseClient, ClickHouseSettings } from "@clickhouse/client";
import { Readable } from "node:stream";
import { isReadingsTable, PluginError, retry } from "../../engine/mod.ts";
import type {
  AssetRow,
  Clock,
  Logger,
  PipelineState,
  QueryParams,
  Reading,
  ReadingBatch,
  RunRecord,
  Sink,
  StorageModel,
  Ticks,
  WriteResult,
} from "../../engine/mod.ts";
import {
  assetsTable,
  COMPUTED_AT,
  modelDdl,
  q,
  STATE_TABLES,
  supportsFinal,
  tagColumnOf,
  timeColumnOf,
} from "./ddl.ts";
import type { Target } from "./ddl.ts";
import { driftOf } from "./drift.ts";
import { buildInsert, chTime, comparedParts, planColumns } from "./insert.ts";
import type { ColumnPlan, Insert } from "./insert.ts";
import { encoderFor, RowWriter } from "./rowbinary.ts";

const PLUGIN = "sink-clickhouse";

/** ClickHouse error codes worth retrying: overload, timeouts, network, memory pressure. */
const RETRIABLE_CODES = new Set([
  3, // UNEXPECTED_END_OF_FILE
  159, // TIMEOUT_EXCEEDED
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  241, // MEMORY_LIMIT_EXCEEDED
  252, // TOO_MANY_PARTS
  319, // UNKNOWN_STATUS_OF_INSERT
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
  1000, // POCO_EXCEPTION
]);

export interface SinkContext {
  /** Data client: its database is the pipeline's, for declared queries with plain table names. */
  client: ClickHouseClient;
  /** Client without a database, for DDL and fully qualified statements. */
  root: ClickHouseClient;
  target: Target;
  address: string;
  writeAttempts: number;
  log: Logger;
  clock: Clock;
  signal: AbortSignal;
  onClose?: () => Promise<void>;
}

interface PreparedTable {
  name: string;
  plans: ColumnPlan[];
  tagColumn?: string;
  timeColumn?: string;
  compare: [string, keyof Reading][];
  final: boolean;
}

interface Prepared {
  pipeline: string;
  tables: PreparedTable[];
  aggregations: { name: string; sql: string }[];
  assetColumns: string[];
}

/** Error text of anything thrown by the client. */
function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/** Turns a client error into a PluginError that says whether retrying can help. */
export function classify(what: string, e: unknown, address: string): PluginError {
  if (e instanceof PluginError) return e;
  const code = Number((e as { code?: unknown }).code);
  const fromServer =
    Number.isInteger(code) && code > 0 && /DB::Exception|Code:/.test(reasonOf(e)) ||
    (e as { type?: unknown }).type !== undefined;
  const retriable = fromServer ? RETRIABLE_CODES.has(code) : !(e instanceof TypeError);
  return new PluginError(PLUGIN, `${what} at ${address} failed: ${reasonOf(e)}`, {
    cause: e,
    retriable,
    unavailable: retriable && !fromServer,
  });
}

export function createSink(ctx: SinkContext): Sink {
  const { client, root, target, address, log } = ctx;
  const db = q(target.database);
  let prepared: Prepared | undefined;

  async function once<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw classify(what, e, address);
    }
  }

  function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return retry(() => once(what, fn), {
      attempts: ctx.writeAttempts,
      baseMs: 200,
      maxMs: 10_000,
      clock: ctx.clock,
      signal: ctx.signal,
      isRetriable: (e) => e instanceof PluginError && e.retriable,
      onRetry: (e, attempt, delayMs) =>
        log.warn("retrying", { what, attempt, delay_ms: delayMs, error: reasonOf(e) }),
    });
  }

  async function run(sql: string, params: QueryParams = {}) {
    await root.command({ query: sql, query_params: params });
  }

  async function rows<T>(c: ClickHouseClient, sql: string, params: QueryParams = {}): Promise<T[]> {
    const result = await c.query({ query: sql, query_params: params, format: "JSONEachRow" });
    return await result.json<T>();
  }

  async function refresh(tags: readonly string[], from: Ticks, to: Ticks) {
    for (const agg of need().aggregations) {
      await withRetry(
        `recomputing ${agg.name}`,
        () => run(agg.sql, { tags: [...tags], from: chTime(from), to: chTime(to) }),
      );
    }
  }

  function need(): Prepared {
    if (!prepared) throw new PluginError(PLUGIN, "prepare() must run before writes and state");
    return prepared;
  }

  async function insertRaw(
    what: string,
    sql: string,
    body: Uint8Array<ArrayBuffer>,
    params: QueryParams = {},
    settings: ClickHouseSettings = {},
  ) {
    // The token names the content: the rows and the batch-wide values sent as parameters.
    const constants = new TextEncoder().encode(JSON.stringify(params));
    const hashed = new Uint8Array(body.length + constants.length);
    hashed.set(body);
    hashed.set(constants, body.length);
    const token = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", hashed)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    await withRetry(what, async () => {
      const result = await root.exec({
        query: sql,
        query_params: params,
        values: Readable.from([body], { objectMode: false }),
        clickhouse_settings: {
          insert_deduplicate: 1,
          insert_deduplication_token: token,
          deduplicate_blocks_in_dependent_materialized_views: 1,
          ...settings,
        },
      });
      for await (const _ of result.stream) { /* drain: the connection goes back to the pool */ }
    });
  }

  async function existing(
    t: PreparedTable,
    tags: string[],
    from: Ticks,
    to: Ticks,
  ): Promise<Set<string>> {
    if (!t.tagColumn || !t.timeColumn) return new Set();
    const sql =
      `SELECT ${q(t.tagColumn)} AS t, toString(intDiv(toUnixTimestamp64Nano(${
        q(t.timeColumn)
      }), 100)) AS k` +
      t.compare.map(([c], i) => `, ${q(c)} AS c${i}`).join("") +
      ` FROM ${db}.${q(t.name)}${t.final ? " FINAL" : ""}` +
      ` WHERE ${q(t.tagColumn)} IN {tags:Array(String)} AND ${
        q(t.timeColumn)
      } BETWEEN {from:DateTime64(7, 'UTC')} AND {to:DateTime64(7, 'UTC')}`;
    const found = await withRetry(
      `reading stored rows of ${t.name}`,
      () => rows<Record<string, unknown>>(root, sql, { tags, from: chTime(from), to: chTime(to) }),
    );
    return new Set(
      found.map((r) =>
        `${r.t}\u0000${r.k}\u0000${JSON.stringify(t.compare.map((_, i) => r[`c${i}`]))}`
      ),
    );
  }

  function signature(t: PreparedTable, r: ReadingBatch["readings"][number]): string {
    return `${r.tag}\u0000${r.time}\u0000${
      JSON.stringify(t.compare.map(([, part]) => r[part] ?? null))
    }`;
  }

  return {
    async ping() {
      const result = await client.ping();
      if (!result.success) {
        throw new PluginError(
          PLUGIN,
          `ClickHouse at ${address} is not reachable: ${result.error.message}`,
          {
            cause: result.error,
            retriable: true,
            unavailable: true,
          },
        );
      }
    },

    async prepare(model: StorageModel, pipeline: string) {
      const ddl = modelDdl(target, pipeline, model);
      await withRetry(`creating database ${target.database}`, () => run(ddl[0]!.sql));
      const problems = await once("checking existing tables", () => driftOf(root, target, ddl));
      if (problems.length > 0) {
        throw new PluginError(
          PLUGIN,
          `tables in ${target.database} differ from the spec; nothing was changed or dropped:\n  ${
            problems.join("\n  ")
          }`,
        );
      }
      for (const statement of ddl.slice(1)) {
        await withRetry(`creating ${statement.name}`, () => run(statement.sql));
      }
      prepared = prepareModel(model, pipeline);
      log.info("ClickHouse tables ready", { database: target.database, statements: ddl.length });
    },

    async setAssets(assets: AssetRow[]) {
      const p = need();
      if (assets.length === 0) return;
      const w = new RowWriter();
      for (const row of assets) for (const c of ["tag", ...p.assetColumns]) w.string(row[c] ?? "");
      const columns = ["tag", ...p.assetColumns].map(q).join(", ");
      const table = assetsTable(p.pipeline);
      await insertRaw(
        `writing the asset model`,
        `INSERT INTO ${db}.${q(table)} (${columns}) FORMAT RowBinary`,
        w.take(),
        {},
      );
    },

    async write(
      batch: ReadingBatch,
      options: { deferAggregates?: boolean } = {},
    ): Promise<WriteResult> {
      const p = need();
      const readings = batch.readings;
      if (readings.length === 0) return { written: 0, skipped: 0 };
      const tags = [...new Set(readings.map((r) => r.tag))];
      let from = readings[0]!.time;
      let to = from;
      for (const r of readings) {
        if (r.time < from) from = r.time;
        if (r.time > to) to = r.time;
      }
      let result: WriteResult | undefined;
      for (const t of p.tables) {
        const stored = await existing(t, tags, from, to);
        const fresh = stored.size === 0
          ? readings
          : readings.filter((r) => !stored.has(signature(t, r)));
        result ??= { written: fresh.length, skipped: readings.length - fresh.length };
        if (fresh.length === 0) continue;
        const what = `inserting ${fresh.length} rows into ${t.name}`;
        let insert: Insert;
        try {
          insert = buildInsert(`${db}.${q(t.name)}`, t.plans, fresh, batch.fields);
        } catch (e) {
          throw new PluginError(PLUGIN, `${what} failed: ${reasonOf(e)}`, { cause: e });
        }
        await insertRaw(what, insert.sql, insert.body, insert.params);
      }
      // Refreshed even when everything was already stored: a write interrupted after its
      // insert and before this point leaves the aggregates behind the raw rows.
      if (!options.deferAggregates) await refresh(tags, from, to);
      return result ?? { written: 0, skipped: 0 };
    },

    refreshAggregates: (tags, from, to) => refresh(tags, from, to),

    query<T>(
      sql: string,
      params: QueryParams = {},
      options: { timeoutMs?: number; maxRows?: number } = {},
    ) {
      const settings: ClickHouseSettings = {};
      if (options.timeoutMs) {
        settings.max_execution_time = Math.max(1, Math.ceil(options.timeoutMs / 1000));
      }
      if (options.maxRows) {
        settings.max_result_rows = String(options.maxRows);
        settings.result_overflow_mode = "throw";
      }
      return once("query", async () => {
        const result = await client.query({
          query: sql,
          query_params: params,
          format: "JSONEachRow",
          clickhouse_settings: settings,
        });
        return await result.json<T>();
      });
    },

    async loadState(): Promise<PipelineState> {
      const p = need();
      const wm = await withRetry("reading watermarks", () =>
        rows<{ tag: string; ticks: string }>(
          root,
          `SELECT tag, toString(intDiv(toUnixTimestamp64Nano(watermark), 100)) AS ticks FROM ${db}.${
            q(STATE_TABLES.watermarks)
          } FINAL WHERE pipeline = {p:String}`,
          { p: p.pipeline },
        ));
      const units = await withRetry("reading finished units", () =>
        rows<{ unit: string }>(
          root,
          `SELECT unit FROM ${db}.${q(STATE_TABLES.units)} FINAL WHERE pipeline = {p:String}`,
          { p: p.pipeline },
        ));
      return {
        watermarks: new Map(wm.map((r) => [r.tag, BigInt(r.ticks)])),
        doneUnits: new Set(units.map((r) => r.unit)),
      };
    },

    async saveWatermarks(watermarks: Map<string, Ticks>) {
      const p = need();
      if (watermarks.size === 0) return;
      const w = new RowWriter();
      const time = encoderFor("DateTime64(7)");
      for (const [tag, ticks] of watermarks) {
        w.string(p.pipeline);
        w.string(tag);
        time(w, ticks);
      }
      await insertRaw(
        "saving watermarks",
        `INSERT INTO ${db}.${
          q(STATE_TABLES.watermarks)
        } (pipeline, tag, watermark) FORMAT RowBinary`,
        w.take(),
        {},
        // The same watermarks saved twice must not be mistaken for a retried insert and dropped.
        { insert_deduplicate: 0 },
      );
    },

    async saveUnitDone(unit: string, count: number) {
      const p = need();
      await withRetry(`saving unit ${unit}`, () =>
        root.insert({
          table: `${target.database}.${STATE_TABLES.units}`,
          values: [{ pipeline: p.pipeline, unit, rows: count }],
          format: "JSONEachRow",
        }));
    },

    async saveRun(r: RunRecord) {
      const p = need();
      await withRetry(`saving run ${r.id}`, () =>
        root.insert({
          table: `${target.database}.${STATE_TABLES.runs}`,
          values: [{
            pipeline: p.pipeline,
            id: r.id,
            kind: r.kind,
            started: r.started.getTime(),
            finished: r.finished.getTime(),
            rows: r.rows,
            status: r.status,
            error: r.error ?? "",
          }],
          format: "JSONEachRow",
          clickhouse_settings: { date_time_input_format: "best_effort" },
        }));
    },

    async close() {
      await client.close();
      await root.close();
      await ctx.onClose?.();
    },
  };

  function prepareModel(model: StorageModel, pipeline: string): Prepared {
    const tables: PreparedTable[] = [];
    for (const [name, table] of Object.entries(model.tables)) {
      if (!isReadingsTable(table)) continue;
      const plans = planColumns(name, table);
      tables.push({
        name,
        plans,
        tagColumn: tagColumnOf(table),
        timeColumn: timeColumnOf(table),
        compare: comparedParts(plans),
        final: supportsFinal(table.engine),
      });
    }
    const aggregations = Object.entries(model.aggregations).map(([name, a]) => {
      const source = model.tables[a.from]!;
      const bucket = `toStartOfInterval(${q(a.time_column)}, INTERVAL ${
        Math.round(a.bucket / 1000)
      } SECOND)`;
      const columns = [a.tag_column, a.bucket_column, ...Object.keys(a.columns), COMPUTED_AT];
      const sql = `INSERT INTO ${db}.${q(name)} (${columns.map(q).join(", ")}) ` +
        `SELECT ${q(a.tag_column)}, ${bucket}, ${
          Object.values(a.columns).map((c) => c.expr).join(", ")
        }, now64(3) ` +
        `FROM ${db}.${q(a.from)}${supportsFinal(source.engine) ? " FINAL" : ""} ` +
        `WHERE ${q(a.tag_column)} IN {tags:Array(String)} ` +
        `AND ${q(a.time_column)} >= toStartOfInterval({from:DateTime64(7, 'UTC')}, INTERVAL ${
          Math.round(a.bucket / 1000)
        } SECOND) ` +
        `AND ${q(a.time_column)} < toStartOfInterval({to:DateTime64(7, 'UTC')}, INTERVAL ${
          Math.round(a.bucket / 1000)
        } SECOND) + INTERVAL ${Math.round(a.bucket / 1000)} SECOND ` +
        `GROUP BY ${q(a.tag_column)}, ${bucket}`;
      return { name, sql };
    });
    return { pipeline, tables, aggregations, assetColumns: model.assets?.columns ?? [] };
  }
}
