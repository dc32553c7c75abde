/**
 * The ClickHouse sink against the real engine: the embedded store over HTTP, through the same
 * client the product uses. Configured through the shipped spec, the way users configure it.
 */
import assert from "node:assert/strict";
import { createClient } from "@clickhouse/client";
import { resolveAssets } from "../../engine/assets.ts";
import { PluginError } from "../../engine/errors.ts";
import { createLogger } from "../../engine/log.ts";
import { systemClock } from "../../engine/plugin.ts";
import type { Sink } from "../../engine/plugin.ts";
import { loadSpec } from "../../engine/spec/load.ts";
import { isReadingsTable } from "../../engine/spec/storage.ts";
import type { LoadedSpec } from "../../engine/spec/load.ts";
import { parseTicks } from "../../engine/types.ts";
import type { Reading, ReadingBatch, TagInfo } from "../../engine/types.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import { guarded } from "../../tests/_plugins.ts";
import { startTestStore, testDatabase } from "../../tests/_clickhouse.ts";
import type { TestStore } from "../../tests/_clickhouse.ts";
import { startFaultyProxy } from "../../tests/_faulty_proxy.ts";
import clickhouse from "./mod.ts";

const TAGS: TagInfo[] = [
  { name: "Hamburg.L1.Press01.Temperature", type: "analog", unit: "°C" },
  { name: "Hamburg.L1.Press01.Running", type: "discrete" },
  { name: "Hamburg.L2.Oven02.Recipe", type: "string" },
  { name: "Unplaced 'tag' \\ with quotes", type: "analog", unit: "bar" },
];

const FIELDS = { wwRetrievalMode: "FULL", wwVersion: "LATEST", wwTimeZone: "UTC", wwTagKey: 7 };

/** `n` readings per tag from `start`, 1 s apart plus a sub-millisecond offset; every 10th is a gap. */
function readings(n: number, start = "2026-11-01T00:00:00Z", offset = 0): Reading[] {
  const t0 = parseTicks(start);
  const out: Reading[] = [];
  for (let i = offset; i < offset + n; i++) {
    for (const [k, tag] of TAGS.entries()) {
      const gap = i % 10 === 9;
      out.push({
        tag: tag.name,
        time: t0 + BigInt(i) * 10_000_000n + 1_234n + BigInt(k),
        value: gap || tag.type === "string"
          ? null
          : tag.type === "discrete"
          ? i % 2
          : Math.sin(i / 7) * 100 + 0.1,
        text: tag.type === "string" && !gap ? `recipe "${i % 3}"\t'x'` : null,
        quality: gap ? "bad" : "good",
        qualityCode: gap ? 1 : 0,
        fields: { QualityDetail: gap ? 249 : 192, OPCQuality: gap ? 0 : 192 },
      });
    }
  }
  return out;
}

async function specFor(url: string, database: string): Promise<LoadedSpec> {
  const env: Record<string, string> = {
    CLICKHOUSE_URL: url,
    CLICKHOUSE_DB: database,
    WONDERWARE_HOST: "unused",
  };
  return await loadSpec("pipelines/wonderware.yaml", { plugins, sections, env: (n) => env[n] });
}

async function openSink(url: string, database: string, lines: string[] = []) {
  const loaded = await specFor(url, database);
  const stop = new AbortController();
  const ctx = {
    log: createLogger({ format: "json", write: (l) => lines.push(l) }),
    signal: stop.signal,
    clock: systemClock,
    secrets: new Set<string>(),
    dataDir: "/nonexistent",
  };
  const sink = guarded(
    await clickhouse.create(loaded.plugins.sink.options as never, ctx),
    loaded,
    ctx,
  );
  const { tables, aggregations, assets } = loaded.spec;
  const model = { tables, aggregations, assets };
  return { sink, model, spec: loaded.spec, close: () => sink.close() };
}

async function prepared(url: string, database: string) {
  const s = await openSink(url, database);
  await s.sink.prepare(s.model, s.spec.name);
  await s.sink.setAssets(resolveAssets(s.spec.assets!, TAGS, "wonderware"));
  return s;
}

function count(sink: Sink, sql: string) {
  return sink.queries!.query<{ n: string }>(sql).then((r) => Number(r[0]!.n));
}

/** Aggregates as stored vs recomputed from scratch over the deduplicated raw rows. */
async function assertAggregatesMatchRaw(sink: Sink) {
  // The commit that ends a unit, over every test tag and time.
  await sink.commit({
    tags: TAGS.map((t) => t.name),
    window: { from: parseTicks("2000-01-01T00:00:00Z"), to: parseTicks("2100-01-01T00:00:00Z") },
    rows: 1,
    readings: 1,
  });
  const cols =
    "TagName, minute, first_value, avg_value, min_value, max_value, count, avg_quality, min_quality";
  const stored = await sink.queries!.query(
    `SELECT ${cols} FROM WonderwareHistoryAggregated FINAL ORDER BY TagName, minute`,
  );
  const recomputed = await sink.queries!.query(
    `SELECT TagName, toStartOfMinute(DateTime) AS minute, argMinIf(Value, DateTime, Value IS NOT NULL) AS first_value,
       if(count(Value) = 0, NULL, arraySum(arraySort(groupArray(Value))) / count(Value)) AS avg_value, min(Value) AS min_value, max(Value) AS max_value, count() AS count,
       avg(Quality) AS avg_quality, min(Quality) AS min_quality
     FROM WonderwareHistory FINAL GROUP BY TagName, minute ORDER BY TagName, minute`,
  );
  assert.ok(stored.length > 0);
  assert.deepEqual(stored, recomputed);
}

let store: TestStore;

Deno.test({
  name: "sink-clickhouse against the embedded store",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    store = await startTestStore();
    try {
      await t.step(
        "prepare() creates the declared tables with their engines, keys, partitions and TTL",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const tables = await sink.queries!.query<Record<string, string>>(
              `SELECT name, engine, sorting_key, partition_key, engine_full FROM system.tables
             WHERE database = {db:String} ORDER BY name`,
              { db },
            );
            const byName = Object.fromEntries(tables.map((t) => [t.name, t]));
            assert.deepEqual(Object.keys(byName).sort(), [
              "MachineData",
              "WonderwareHistory",
              "WonderwareHistoryAggregated",
              "WonderwareHistoryDaily",
              "WonderwareHistoryHourly",
              "_pipeline_runs",
              "_pipeline_units",
              "_pipeline_watermarks",
            ]);
            const raw = byName.WonderwareHistory!;
            assert.equal(raw.engine, "ReplacingMergeTree");
            assert.equal(raw.sorting_key, "TagName, DateTime");
            assert.equal(raw.partition_key, "toYYYYMM(DateTime)");
            assert.match(raw.engine_full!, /TTL DateTime \+ toIntervalDay\(90\)/);
            assert.match(raw.engine_full!, /non_replicated_deduplication_window = 10000/);
            const agg = byName.WonderwareHistoryAggregated!;
            assert.equal(agg.engine, "ReplacingMergeTree");
            assert.equal(agg.sorting_key, "TagName, minute");
            assert.match(agg.engine_full!, /TTL minute \+ toIntervalDay\(730\)/);
            const md = byName.MachineData!;
            assert.equal(md.engine, "ReplacingMergeTree", "the asset dimension, one row per tag");
            assert.match(md.sorting_key!, /^\(?source, tag\)?$/, "one row per site and tag");
            assert.doesNotMatch(md.engine_full!, /TTL/, "kept for good");
            const columns = await sink.queries!.query<{ name: string; type: string }>(
              `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'WonderwareHistory'
             ORDER BY position`,
              { db },
            );
            assert.equal(
              columns.length,
              36,
              "33 History columns (24 of them read from _batch_fields, StartDateTime from DateTime, " +
                "vValue over _vValue), IngestedAt, _batch_fields, _vValue",
            );
            assert.deepEqual(columns[0], { name: "DateTime", type: "DateTime64(7, 'UTC')" });
            assert.deepEqual(columns[2], { name: "Value", type: "Nullable(Float64)" });
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "prepare() a second time changes nothing and leaves no scratch tables",
        async () => {
          const db = testDatabase();
          const first = await prepared(store.url, db);
          const before = await first.sink.queries!.query(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name",
            { db },
          );
          await first.close();
          const second = await prepared(store.url, db);
          const after = await second.sink.queries!.query(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name",
            { db },
          );
          await second.close();
          assert.deepEqual(after, before);
        },
      );

      await t.step(
        "a table that exists with another definition is reported, not changed",
        async () => {
          const db = testDatabase();
          const admin = createClient({ url: store.url });
          await admin.command({ query: `CREATE DATABASE ${db}` });
          await admin.command({
            query:
              `CREATE TABLE ${db}.WonderwareHistory (DateTime DateTime64(3, 'UTC'), TagName String, Value Float64)
                  ENGINE = MergeTree ORDER BY TagName`,
          });
          const { sink, model, spec, close } = await openSink(store.url, db);
          try {
            const error = await sink.prepare(model, spec.name).then(() => undefined, (e) => e);
            assert.ok(error instanceof PluginError);
            assert.ok(!error.retriable);
            const text = error.message;
            assert.match(
              text,
              new RegExp(
                `^sink-clickhouse: tables in ${db} differ from the spec; nothing was changed`,
              ),
            );
            assert.match(
              text,
              /WonderwareHistory: column DateTime is DateTime64\(3, 'UTC'\), the spec says DateTime64\(7, 'UTC'\)/,
            );
            assert.match(
              text,
              /WonderwareHistory: column Value is Float64, the spec says Nullable\(Float64\)/,
            );
            assert.match(text, /WonderwareHistory: column vValue is missing/);
            assert.match(
              text,
              /WonderwareHistory: engine, keys, TTL or settings are\n {4}MergeTree ORDER BY TagName/,
            );
            const still = await sink.queries!.query<{ n: string }>(
              `SELECT count() AS n FROM system.columns WHERE database = {db:String} AND table = 'WonderwareHistory'`,
              { db },
            );
            assert.equal(Number(still[0]!.n), 3);
            const created = await sink.queries!.query(
              `SELECT name FROM system.tables WHERE database = {db:String}`,
              { db },
            );
            assert.deepEqual(
              created,
              [{ name: "WonderwareHistory" }],
              "nothing else was created either",
            );
          } finally {
            await close();
            await admin.close();
          }
        },
      );

      await t.step(
        "an existing deployment's per-reading MachineData is named, with exactly what to drop",
        async () => {
          const db = testDatabase();
          const admin = createClient({ url: store.url });
          await admin.command({ query: `CREATE DATABASE ${db}` });
          await admin.command({
            query:
              `CREATE TABLE ${db}.WonderwareHistory (DateTime DateTime64(7, 'UTC'), TagName String)
              ENGINE = MergeTree ORDER BY TagName`,
          });
          await admin.command({
            query:
              `CREATE TABLE ${db}.MachineData (timestamp DateTime64(7, 'UTC'), tag String, machine String)
              ENGINE = MergeTree ORDER BY (machine, timestamp)`,
          });
          await admin.command({
            query:
              `CREATE MATERIALIZED VIEW ${db}.MachineData__mv TO ${db}.MachineData AS SELECT DateTime AS timestamp, TagName AS tag, '' AS machine FROM ${db}.WonderwareHistory`,
          });
          await admin.close();
          const { sink, model, spec, close } = await openSink(store.url, db);
          try {
            const error = await sink.prepare(model, spec.name).then(() => undefined, (e) => e);
            assert.ok(error instanceof PluginError);
            assert.ok(
              error.message.includes(
                `MachineData is a per-reading copy left from an older model: drop it with DROP VIEW \`${db}\`.\`MachineData__mv\`; DROP TABLE \`${db}\`.\`MachineData\``,
              ),
              error.message,
            );
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "per-batch columns are kept once per batch and read back by name, value for value",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const kinds = await sink.queries!.query<{ kind: string; n: number }>(
              `SELECT default_kind AS kind, count() AS n FROM system.columns
               WHERE database = {db:String} AND table = 'WonderwareHistory' GROUP BY kind ORDER BY kind`,
              { db },
            );
            assert.deepEqual(kinds, [
              { kind: "", n: 9 },
              { kind: "ALIAS", n: 26 },
              { kind: "DEFAULT", n: 1 },
            ]);
            const odd = {
              wwRetrievalMode: "FULL",
              wwVersion: "LATEST",
              wwRowCount: 2147483647,
              wwValueDeadband: 0.1,
              StateTime: Number.NaN,
              PercentGood: -Infinity,
              SourceTag: `it's "quoted" \\ ∆`,
              SourceServer: null,
            };
            await sink.write({ readings: readings(5), fields: FIELDS });
            await sink.write({ readings: readings(5, "2026-11-02T00:00:00Z"), fields: odd });
            const back = await sink.queries!.query(
              `SELECT toDate(DateTime) AS day, count() AS n, any(wwRetrievalMode) AS mode, any(wwVersion) AS version,
                 any(wwTimeZone) AS tz, any(wwRowCount) AS row_count, toString(any(wwValueDeadband)) AS deadband,
                 toString(any(StateTime)) AS state_time, toString(any(PercentGood)) AS good,
                 any(SourceTag) AS source_tag, any(SourceServer) AS source_server, uniqExact(_batch_fields) AS kept
               FROM WonderwareHistory GROUP BY day ORDER BY day`,
            );
            assert.deepEqual(back, [
              {
                day: "2026-11-01",
                n: 20,
                mode: "FULL",
                version: "LATEST",
                tz: "UTC",
                row_count: null,
                deadband: null,
                state_time: null,
                good: null,
                source_tag: null,
                source_server: null,
                kept: 1,
              },
              {
                day: "2026-11-02",
                n: 20,
                mode: "FULL",
                version: "LATEST",
                tz: null,
                row_count: 2147483647,
                deadband: "0.1",
                state_time: "nan",
                good: "-inf",
                source_tag: odd.SourceTag,
                source_server: null,
                kept: 1,
              },
            ]);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "a table that stores per-batch columns per row gets the statements that migrate it in place",
        async () => {
          const db = testDatabase();
          // The older model: every History column stored on every row.
          const old = await openSink(store.url, db);
          const raw = old.model.tables.WonderwareHistory!;
          assert.ok(isReadingsTable(raw));
          const perRow = {
            ...old.model,
            tables: {
              ...old.model.tables,
              WonderwareHistory: {
                ...raw,
                columns: Object.fromEntries(
                  Object.entries(raw.columns).map((
                    [n, c],
                  ) => [n, { ...c, stored: "per_row" as const }]),
                ),
              },
            },
          };
          const fields = {
            ...FIELDS,
            wwValueDeadband: 0.25,
            StateTime: Number.NaN,
            PercentGood: Infinity,
            SourceTag: `it's "x" \\ ∆`,
          };
          try {
            await old.sink.prepare(perRow, old.spec.name);
            await old.sink.write({ readings: readings(5), fields });
          } finally {
            await old.close();
          }
          const { sink, model, spec, close } = await openSink(store.url, db);
          const admin = createClient({ url: store.url });
          try {
            const error = await sink.prepare(model, spec.name).then(() => undefined, (e) => e);
            assert.ok(error instanceof PluginError);
            assert.match(
              error.message,
              /WonderwareHistory: 24 columns stored here per row are kept once per batch by the spec \(wwRowCount, /,
            );
            const statements = error.message.split("\n").map((l) => l.trim()).filter((l) =>
              l.startsWith("ALTER TABLE")
            );
            assert.match(
              error.message,
              /vValue keeps in _vValue only the texts that are not the row's Value written out \(every row reads the same\); StartDateTime is read from DateTime \(its stored copy is dropped\)/,
            );
            // 5 for the per-batch columns, 2 for StartDateTime, 5 for vValue.
            assert.equal(statements.length, 12);
            assert.ok(
              !error.message.includes("column wwRowCount"),
              "the migrated columns are not reported one by one as well",
            );
            for (const query of statements) await admin.command({ query: query.replace(/;$/, "") });
            await sink.prepare(model, spec.name);
            const back = await sink.queries!.query(
              `SELECT count() AS n, any(wwRetrievalMode) AS mode, any(wwTagKey) AS key, any(wwValueDeadband) AS deadband,
                 any(SourceTag) AS source_tag, any(wwRowCount) AS row_count, toString(any(StateTime)) AS state_time,
                 toString(any(PercentGood)) AS good, countIf(StartDateTime = DateTime) AS start,
                 groupArrayIf(vValue, vValue IS NOT NULL) AS texts FROM WonderwareHistory`,
            );
            assert.deepEqual(back, [{
              n: 20,
              mode: "FULL",
              key: 7,
              deadband: 0.25,
              source_tag: fields.SourceTag,
              row_count: null,
              state_time: "nan",
              good: "inf",
              start: 20,
              texts: readings(5).flatMap((r) => r.text === null ? [] : [r.text]),
            }]);
          } finally {
            await close();
            await admin.close();
          }
        },
      );

      await t.step(
        "MachineData is the asset dimension: one row per tag, kept past the raw TTL, re-labelled by a rule edit",
        async () => {
          const db = testDatabase();
          const { sink, spec, close } = await prepared(store.url, db);
          try {
            // Readings older than the raw table's 90 days are dropped; the dimension keeps the tag.
            const old = readings(5, "2020-01-01T00:00:00Z");
            await sink.write({ readings: old, fields: FIELDS });
            const admin = createClient({ url: store.url, database: db });
            await admin.command({ query: "OPTIMIZE TABLE WonderwareHistory FINAL" }); // applies TTL
            await admin.command({ query: "OPTIMIZE TABLE MachineData FINAL" });
            await admin.close();
            assert.equal(await count(sink, "SELECT count() AS n FROM WonderwareHistory"), 0);
            const rows = await sink.queries!.query<Record<string, unknown>>(
              "SELECT tag, machine, sensor_type, unit, type, source, min, max FROM MachineData FINAL ORDER BY tag",
            );
            assert.equal(rows.length, 4);
            assert.deepEqual(rows[0], {
              tag: "Hamburg.L1.Press01.Running",
              machine: "Press01",
              sensor_type: "Running",
              unit: "",
              type: "discrete",
              source: "wonderware",
              min: null,
              max: null,
            });
            assert.equal(rows[3]!.machine, "", "a tag no rule matches is listed, unplaced");
            const edited = {
              ...spec.assets!,
              rules: spec.assets!.rules.map((r) => ({
                ...r,
                set: { ...r.set, machine: "M-{machine}" },
              })),
            };
            await sink.setAssets(resolveAssets(edited, TAGS, "wonderware"));
            const relabelled = await sink.queries!.query<{ machine: string }>(
              "SELECT machine FROM MachineData FINAL WHERE tag = 'Hamburg.L1.Press01.Temperature'",
            );
            assert.deepEqual(relabelled, [{ machine: "M-Press01" }]);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "the same batch written 3 times, its responses lost after storing, is stored once",
        async () => {
          const db = testDatabase();
          const proxy = startFaultyProxy(store.url);
          const lines: string[] = [];
          const { sink, model, spec, close } = await openSink(proxy.url, db, lines);
          try {
            await sink.prepare(model, spec.name);
            await sink.setAssets(resolveAssets(spec.assets!, TAGS, "wonderware"));
            const batch: ReadingBatch = { readings: readings(300), fields: FIELDS };
            proxy.loseResponses(
              2,
              (u) => (u.searchParams.get("query") ?? "").startsWith("INSERT INTO"),
            );
            const first = await sink.write(batch);
            assert.ok(proxy.lost() >= 1, "a stored insert lost its response and was retried");
            // The retried write found what the lost insert had stored.
            assert.equal(first.written + first.skipped, 1200);
            assert.ok(lines.some((l) => l.includes('"msg":"sink call failed; retrying"')));
            for (let i = 0; i < 2; i++) {
              assert.deepEqual(await sink.write(batch), { written: 0, skipped: 1200 });
            }
            assert.equal(await count(sink, "SELECT count() AS n FROM WonderwareHistory"), 1200);
            assert.equal(
              await count(sink, "SELECT count() AS n FROM WonderwareHistory FINAL"),
              1200,
            );
            assert.equal(
              await count(sink, "SELECT count() AS n FROM MachineData FINAL"),
              4,
              "one row per tag, the unplaced one too",
            );
            await assertAggregatesMatchRaw(sink);
          } finally {
            await close();
            await proxy.stop();
          }
        },
      );

      await t.step(
        "held rows: a unit's batches go in as few inserts, at its share of memory or its commit; retried inserts store each row once; released rows are never stored",
        async () => {
          const db = testDatabase();
          const proxy = startFaultyProxy(store.url);
          const { sink, model, spec, close } = await openSink(proxy.url, db);
          const inserts = () =>
            count(
              sink,
              `SELECT count() AS n FROM system.parts WHERE database = '${db}' AND table = 'WonderwareHistory'`,
            );
          const raw = () => count(sink, "SELECT count() AS n FROM WonderwareHistory");
          const commit = (unit: string, tags = TAGS) =>
            sink.commit({
              unit,
              tags: tags.map((t) => t.name),
              window: {
                from: parseTicks("2026-10-01T00:00:00Z"),
                to: parseTicks("2026-12-01T00:00:00Z"),
              },
              rows: 1,
              readings: 1,
            });
          try {
            await sink.prepare(model, spec.name);
            // Room for everything: three batches, nothing stored until the commit, then one part.
            const big = { unit: "u1#1", holdBytes: 64 << 20, fresh: true };
            for (let b = 0; b < 3; b++) {
              const batch = {
                readings: readings(100, "2026-11-01T00:00:00Z", b * 100),
                fields: FIELDS,
              };
              assert.deepEqual(await sink.write(batch, big), { written: 400, skipped: 0 });
            }
            assert.equal(await raw(), 0, "held until the commit");
            // The commit's insert loses its response: retried, the rows are stored once.
            proxy.loseResponses(
              1,
              (u) => (u.searchParams.get("query") ?? "").startsWith("INSERT INTO"),
            );
            await commit("u1#1");
            assert.equal(proxy.lost(), 1);
            assert.equal(await raw(), 1200, "every row once, without FINAL");
            assert.equal(await inserts(), 1, "one insert for the three batches");
            // A small share: inserts as it fills. A write whose insert loses its response is
            // retried without appending its batch twice.
            const small = { unit: "u2#1", holdBytes: 1, fresh: true };
            proxy.loseResponses(
              1,
              (u) => (u.searchParams.get("query") ?? "").startsWith("INSERT INTO"),
            );
            const batch = { readings: readings(100, "2026-11-02T00:00:00Z"), fields: FIELDS };
            await sink.write(batch, small);
            assert.equal(proxy.lost(), 2);
            assert.equal(await raw(), 1600, "stored during write(), each row once");
            await commit("u2#1");
            assert.equal(await raw(), 1600);
            // A failed attempt is released: its held rows are never stored, not by a later commit
            // of the same unit's next attempt either.
            await sink.write(
              { readings: readings(100, "2026-11-03T00:00:00Z"), fields: FIELDS },
              { unit: "u3#1", holdBytes: 64 << 20 },
            );
            sink.release!("u3#1");
            await commit("u3#1");
            await commit("u3#2");
            assert.equal(await raw(), 1600, "released rows are gone");
            await assertAggregatesMatchRaw(sink);
          } finally {
            await close();
            await proxy.stop();
          }
        },
      );

      await t.step(
        "ClickHouse pushing back (TOO_MANY_PARTS) is waited out with backoff",
        async () => {
          const db = testDatabase();
          const proxy = startFaultyProxy(store.url);
          const lines: string[] = [];
          const { sink, model, spec, close } = await openSink(proxy.url, db, lines);
          try {
            await sink.prepare(model, spec.name);
            proxy.pushBack(3, (u) => (u.searchParams.get("query") ?? "").startsWith("INSERT INTO"));
            assert.deepEqual(await sink.write({ readings: readings(50), fields: FIELDS }), {
              written: 200,
              skipped: 0,
            });
            assert.equal(proxy.refused(), 3);
            assert.equal(
              lines.filter((l) =>
                l.includes('"msg":"sink call failed; retrying"') && l.includes("Too many parts")
              )
                .length,
              3,
            );
            assert.equal(await count(sink, "SELECT count() AS n FROM WonderwareHistory"), 200);
          } finally {
            await close();
            await proxy.stop();
          }
        },
      );

      await t.step(
        "two overlapping batches store the union once; aggregates equal a recomputation",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            assert.deepEqual(await sink.write({ readings: readings(200), fields: FIELDS }), {
              written: 800,
              skipped: 0,
            });
            assert.deepEqual(
              await sink.write({ readings: readings(200, undefined, 100), fields: FIELDS }),
              {
                written: 400,
                skipped: 400,
              },
            );
            assert.equal(await count(sink, "SELECT count() AS n FROM WonderwareHistory"), 1200);
            assert.equal(await count(sink, "SELECT count() AS n FROM MachineData FINAL"), 4);
            await assertAggregatesMatchRaw(sink);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "a revised point replaces the stored one, in raw rows and aggregates",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const original = readings(120);
            await sink.write({ readings: original, fields: FIELDS });
            const revised = original.slice(0, 8).map((r) =>
              r.value === null ? r : { ...r, value: r.value + 1000, qualityDetail: 202 }
            );
            assert.deepEqual(await sink.write({ readings: revised, fields: FIELDS }), {
              written: 6,
              skipped: 2,
            });
            assert.equal(
              await count(sink, "SELECT count() AS n FROM WonderwareHistory FINAL"),
              480,
            );
            const max = await sink.queries!.query<{ m: number }>(
              "SELECT max(Value) AS m FROM WonderwareHistory FINAL",
            );
            assert.ok(max[0]!.m > 1000);
            await assertAggregatesMatchRaw(sink);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "readings round-trip value for value: 100-ns times, NULL gaps, text, unicode, fields",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const rs = readings(20);
            await sink.write({ readings: rs, fields: FIELDS });
            const back = await sink.queries!.query<Record<string, unknown>>(
              `SELECT TagName, toString(DateTime) AS t, Value, vValue, Quality, QualityDetail, OPCQuality,
               wwRetrievalMode, wwVersion, wwTagKey, wwUnit FROM WonderwareHistory FINAL ORDER BY TagName, DateTime`,
            );
            const expected = [...rs].sort((a, b) =>
              a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : Number(a.time - b.time)
            );
            assert.equal(back.length, expected.length);
            for (const [i, r] of expected.entries()) {
              const iso = new Date(Number(r.time / 10_000n)).toISOString();
              assert.deepEqual(back[i], {
                TagName: r.tag,
                t: `${iso.slice(0, 10)} ${iso.slice(11, 23)}${
                  (r.time % 10_000n).toString().padStart(4, "0")
                }`,
                Value: r.value,
                vValue: r.text,
                Quality: r.qualityCode,
                QualityDetail: r.fields?.QualityDetail,
                OPCQuality: r.fields?.OPCQuality,
                wwRetrievalMode: "FULL",
                wwVersion: "LATEST",
                wwTagKey: 7,
                wwUnit: null,
              });
            }
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "vValue keeps only what is not Value written out, and reads back every text as sent; StartDateTime is DateTime",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const t0 = parseTicks("2026-11-01T00:00:00Z");
            // As the Historian sends them: a number's text beside it (in JavaScript's spelling,
            // which ClickHouse's differs from for 1e+21, -0, NaN), text alone, a gap, and odd
            // pairs a source might send.
            const pairs: [number | null, string | null][] = [
              [12.5, "12.5"],
              [0.1, "0.1"],
              [1e21, "1e+21"],
              [-0, "0"],
              [Number.NaN, "NaN"],
              [3, "3.000"],
              [7, null],
              [null, "Wheat-500g"],
              [null, ""],
              [null, null],
              [2, ""],
            ];
            const rs: Reading[] = pairs.map(([value, text], i) => ({
              tag: "Hamburg.L1.Press01.Temperature",
              time: t0 + BigInt(i) * 10_000_000n,
              value,
              text,
              quality: "good",
              qualityCode: 0,
              fields: { QualityDetail: 192, OPCQuality: 192 },
            }));
            await sink.write({ readings: rs, fields: FIELDS });
            const back = await sink.queries!.query<{ text: string | null; same: number }>(
              `SELECT vValue AS text, StartDateTime = DateTime AS same FROM WonderwareHistory FINAL ORDER BY DateTime`,
            );
            assert.deepEqual(back.map((r) => r.text), pairs.map(([, text]) => text));
            assert.ok(back.every((r) => r.same === 1));
            const kept = await sink.queries!.query<{ n: string }>(
              "SELECT countIf(_vValue IS NOT NULL) AS n FROM WonderwareHistory",
            );
            // 12.5 and 0.1 are ClickHouse's own text of their number, the gap has none: nothing
            // kept for them.
            assert.equal(Number(kept[0]!.n), pairs.length - 3);
            // What a rewrite of the sink's re-read compares: the same batch again stores nothing.
            const again = await sink.write({ readings: rs, fields: FIELDS });
            assert.equal(again.written, 0);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "pipeline state round-trips: watermarks at 100 ns, finished units, runs",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const w1 = parseTicks("2026-11-01T00:00:00.0000001Z");
            const w2 = parseTicks("2026-11-02T12:34:56.7654321Z");
            await sink.state!.saveWatermarks(new Map([["a", w1], ["b'\\", w2]]));
            await sink.state!.saveWatermarks(new Map([["a", w2]]));
            const unit = (id: string, rows: number) =>
              sink.commit({ id, tags: [], window: { from: w1, to: w2 }, rows, readings: 0 });
            await unit("unit-1", 42);
            await unit("unit-1", 42);
            await unit("unit-2", 0);
            await sink.state!.saveRun({
              id: "run-1",
              kind: "backfill",
              started: new Date("2026-11-01T00:00:00Z"),
              finished: new Date("2026-11-01T00:01:00Z"),
              rows: 10,
              status: "ok",
            });
            const state = await sink.state!.load();
            assert.deepEqual(state.watermarks, new Map([["a", w2], ["b'\\", w2]]));
            assert.deepEqual(state.doneUnits, new Set(["unit-1", "unit-2"]));
            const runs = await sink.queries!.query(
              "SELECT id, kind, rows, status FROM _pipeline_runs",
            );
            assert.deepEqual(runs, [{ id: "run-1", kind: "backfill", rows: 10, status: "ok" }]);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "hostile query parameters round-trip exactly through the embedded endpoint",
        async () => {
          const { sink, close } = await openSink(store.url, "default");
          try {
            const hostile = [
              "it's",
              'say "hi"',
              "back\\slash\\",
              "tab\there",
              "new\nline\r\n",
              "'; DROP TABLE x; --",
              "{not:a_param}",
              "Zoë ✓ 測試 🙂",
              "x".repeat(10_000),
              "\\'\\\\'",
            ];
            for (const s of hostile) {
              const [row] = await sink.queries!.query<{ s: string; n: string }>(
                "SELECT {s:String} AS s, length({s:String}) AS n",
                {
                  s,
                },
              );
              assert.equal(row!.s, s);
              assert.equal(Number(row!.n), new TextEncoder().encode(s).length);
            }
            const [arr] = await sink.queries!.query<{ a: string[] }>(
              "SELECT {a:Array(String)} AS a",
              {
                a: hostile,
              },
            );
            assert.deepEqual(arr!.a, hostile);
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "a value that does not fit its column fails at once, naming the table and reason",
        async () => {
          const db = testDatabase();
          const { sink, close } = await prepared(store.url, db);
          try {
            const bad = readings(1).map((r) => ({ ...r, fields: { wwTagKey: "not a number" } }));
            const error = await sink.write({ readings: bad, fields: FIELDS }).then(
              () => undefined,
              (e) => e,
            );
            assert.ok(error instanceof PluginError, String(error));
            assert.ok(!error.retriable);
            assert.equal(
              error.message,
              `sink-clickhouse: inserting 4 rows into WonderwareHistory failed: Cannot write "not a number" as Int32`,
            );
            // The same for a value the whole batch shares (a parameter of the insert).
            const shared = await sink.write({
              readings: readings(1),
              fields: { ...FIELDS, wwTagKey: { key: 7 } },
            }).then(() => undefined, (e) => e);
            assert.ok(shared instanceof PluginError, String(shared));
            assert.match(
              shared.message,
              /inserting 4 rows into WonderwareHistory failed: Cannot write/,
            );
          } finally {
            await close();
          }
        },
      );

      await t.step(
        "an insert the server rejects for good fails at once without retries",
        async () => {
          const db = testDatabase();
          const lines: string[] = [];
          const { sink, model, spec, close } = await openSink(store.url, db, lines);
          try {
            await sink.prepare(model, spec.name);
            await sink.queries!.query(`ALTER TABLE WonderwareHistory DROP COLUMN wwTagKey`);
            const started = Date.now();
            const error = await sink.write({ readings: readings(1), fields: FIELDS }).then(
              () => undefined,
              (e) => e,
            );
            assert.ok(error instanceof PluginError, String(error));
            assert.ok(!error.retriable && !error.unavailable);
            assert.match(
              error.message,
              /^sink-clickhouse: inserting 4 rows into WonderwareHistory at 127\.0\.0\.1:\d+ failed: .*wwTagKey/,
            );
            assert.ok(!lines.some((l) => l.includes("retrying")), "no retries");
            assert.ok(Date.now() - started < 5_000);
          } finally {
            await close();
          }
        },
      );
    } finally {
      await store.stop();
    }
  },
});
