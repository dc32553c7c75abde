/**
 * `migrate` against the embedded store: tables stored under one version of a spec, then planned
 * and applied to the next; each plan's statements are pinned, every apply is applied again to
 * show it changes nothing, and filled aggregations equal a recomputation from the raw rows.
 */
import assert from "node:assert/strict";
import { PluginError } from "../../engine/errors.ts";
import { formatPlan, pendingSteps } from "../../engine/migration.ts";
import type { MigrationProgress } from "../../engine/migration.ts";
import { startTestStore, testDatabase } from "../../tests/_clickhouse.ts";
import type { TestStore } from "../../tests/_clickhouse.ts";
import { assertRollupsEqualRaw } from "../../tests/_verify.ts";
import {
  ok,
  openPlant,
  RECOMPUTED_MINUTES,
  STORED_MINUTES,
  storedPlant,
  TAGS,
} from "../../tests/_migrate_plant.ts";
import type { PlantVersion } from "../../tests/_migrate_plant.ts";

let store: TestStore;

const open = (db: string, version: PlantVersion) => openPlant(store, db, version);

/** A new database holding `version`'s tables and the plant's rows. */
async function stored(version: PlantVersion): Promise<string> {
  const db = testDatabase();
  await storedPlant(store, db, version);
  return db;
}

async function one(db: string, sql: string): Promise<string> {
  return (await ok(store, sql.replaceAll("{db}", db))).trim();
}

/** Applies, then proves the plan is empty and a second apply changes nothing. */
async function applyTwice(s: Awaited<ReturnType<typeof open>>, db: string) {
  const first = await s.apply({ allowLoss: true });
  const after = await s.plan();
  assert.deepEqual(pendingSteps(after), [], formatPlan(after, "migrate"));
  const tables =
    `SELECT name, create_table_query FROM system.tables WHERE database = '${db}' ORDER BY name FORMAT JSONEachRow`;
  const before = await one(db, tables);
  const second = await s.apply();
  assert.deepEqual([second.chunks, second.rows], [0, 0], "the second apply runs nothing");
  assert.equal(await one(db, tables), before, "the second apply changes no table");
  await s.prepare(); // run starts: the tables are the spec's
  return first;
}

Deno.test({
  name: "migrate against the embedded store",
  sanitizeResources: false, // the store's process and the client's keep-alive sockets
  sanitizeOps: false,
  async fn(t) {
    store = await startTestStore();
    try {
      await t.step(
        "a retention change is one MODIFY TTL, and run refuses until it is applied",
        async () => {
          const db = await stored({});
          const s = await open(db, { keep: "180d" });
          try {
            const refusal = await s.prepare().then(() => undefined, (e) => e);
            assert.ok(refusal instanceof PluginError);
            assert.match(
              refusal.message,
              /^sink-clickhouse: tables in t_\w+ differ from the spec; nothing was changed or dropped:/,
            );
            assert.ok(refusal.message.includes("`deno task migrate plant.yaml --apply` runs it"));
            const plan = await s.plan();
            assert.deepEqual(plan.steps.map((x) => [x.name, x.action]), [[
              "WonderwareHistory",
              "alter",
            ]]);
            assert.deepEqual(plan.steps[0]!.statements, [
              `ALTER TABLE \`${db}\`.\`WonderwareHistory\` MODIFY TTL DateTime + toIntervalDay(180)`,
            ]);
            assert.deepEqual(plan.steps[0]!.changes, [
              "retention (TTL) is DateTime + toIntervalDay(90), the spec says DateTime + toIntervalDay(180) (stored parts are re-evaluated by a background mutation, see system.mutations)",
            ]);
            assert.ok(refusal.message.includes(formatPlan(plan, "deno task migrate plant.yaml")));
            const rows = await one(db, "SELECT count() FROM {db}.WonderwareHistory");
            await applyTwice(s, db);
            assert.match(
              await one(
                db,
                `SELECT engine_full FROM system.tables WHERE database = '{db}' AND name = 'WonderwareHistory'`,
              ),
              /TTL DateTime \+ toIntervalDay\(180\)/,
            );
            assert.equal(await one(db, "SELECT count() FROM {db}.WonderwareHistory"), rows);
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "a new column is added in place, after its neighbour; stored rows read NULL",
        async () => {
          const db = await stored({});
          const s = await open(db, {
            columns: ["OPCQuality: { type: Nullable(Int32), value: fields.OPCQuality }"],
          });
          try {
            const plan = await s.plan();
            assert.deepEqual(plan.steps.map((x) => x.statements), [[
              `ALTER TABLE \`${db}\`.\`WonderwareHistory\` ADD COLUMN \`OPCQuality\` Nullable(Int32) AFTER \`QualityDetail\``,
            ]]);
            await applyTwice(s, db);
            assert.equal(
              await one(
                db,
                "SELECT countIf(OPCQuality IS NULL) = count() FROM {db}.WonderwareHistory",
              ),
              "1",
            );
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "a type change converts every stored value, once they are checked to fit",
        async () => {
          const db = await stored({});
          const sum =
            "SELECT sum(QualityDetail), toTypeName(any(QualityDetail)) FROM {db}.WonderwareHistory";
          const before = await one(db, sum);
          const s = await open(db, { qualityDetail: "Nullable(Int64)" });
          try {
            const [step] = (await s.plan()).steps;
            assert.deepEqual(step!.statements, [
              `ALTER TABLE \`${db}\`.\`WonderwareHistory\` MODIFY COLUMN \`QualityDetail\` Nullable(Int64) SETTINGS mutations_sync = 2`,
            ]);
            await applyTwice(s, db);
            assert.equal(await one(db, sum), before.replace("Nullable(Int32)", "Nullable(Int64)"));
          } finally {
            await s.close();
          }
          // Values that would not survive: refused before anything changes.
          const narrow = await open(db, { qualityDetail: "Nullable(Int8)" });
          try {
            const error = await narrow.apply().then(() => undefined, (e) => e);
            assert.ok(error instanceof PluginError);
            assert.match(
              error.message,
              /WonderwareHistory\.QualityDetail: \d+ stored values do not convert from Nullable\(Int64\) to Nullable\(Int8\) \(for example "(192|249)"\); nothing of this column was changed/,
            );
            assert.match(await one(db, sum), /Nullable\(Int64\)/);
          } finally {
            await narrow.close();
          }
        },
      );

      await t.step(
        "a codec the spec does not declare is planned as MODIFY COLUMN … REMOVE CODEC",
        async () => {
          const db = await stored({});
          await ok(
            store,
            `ALTER TABLE ${db}.WonderwareHistory MODIFY COLUMN Value Nullable(Float64) CODEC(ZSTD(3))`,
          );
          const s = await open(db, {});
          try {
            const [step] = (await s.plan()).steps;
            assert.deepEqual(step!.changes, [
              "column Value is compressed with CODEC(ZSTD(3)), the spec says the default codec (parts take it as they are merged; OPTIMIZE TABLE … FINAL rewrites them now)",
            ]);
            assert.deepEqual(step!.statements, [
              `ALTER TABLE \`${db}\`.\`WonderwareHistory\` MODIFY COLUMN \`Value\` REMOVE CODEC`,
            ]);
            await applyTwice(s, db);
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "new aggregations are created and filled from the stored raw rows, in chunks",
        async () => {
          const db = await stored({ aggregations: "none" });
          const s = await open(db, { aggregations: "rollups" });
          try {
            const refusal = await s.prepare().then(() => undefined, (e) => e);
            assert.ok(refusal instanceof PluginError);
            assert.match(
              refusal.message,
              /WonderwareHistoryAggregated: new aggregation of WonderwareHistory/,
            );
            const plan = await s.plan();
            assert.deepEqual(
              plan.steps.filter((x) => x.action !== "create").map((x) => [x.name, x.action]),
              [
                ["WonderwareHistoryAggregated", "fill"],
                ["WonderwareHistoryHourly", "fill"],
                ["WonderwareHistoryDaily", "fill"],
              ],
            );
            const minute = plan.steps.find((x) => x.name === "WonderwareHistoryAggregated")!;
            // 6 tags, 2 a chunk, over the 3 days stored: 9 chunks.
            assert.deepEqual(minute.chunks!.total, (TAGS / 2) * 3);
            assert.match(
              minute.chunks!.statements[0]!,
              /^INSERT INTO `t_\w+`\.`WonderwareHistoryAggregated` .* FROM `t_\w+`\.`WonderwareHistory` FINAL WHERE `TagName` IN \{tags:Array\(String\)\}/,
            );
            assert.equal(
              plan.steps.find((x) => x.name === "WonderwareHistoryHourly")!.chunks!.total,
              undefined,
            );
            await applyTwice(s, db);
            const stored = await s.sink.queries!.query(STORED_MINUTES);
            assert.equal(stored.length, TAGS * 3 * 1440);
            assert.deepEqual(stored, await s.sink.queries!.query(RECOMPUTED_MINUTES));
            await assertRollupsEqualRaw(s.sink.queries!);
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "an apply stopped half-way resumes: finished chunks are skipped, the result is the same",
        async () => {
          const db = await stored({});
          const s = await open(db, { aggregations: "rollups", tagsPerChunk: 1, window: "6h" });
          try {
            const stop = new AbortController();
            let seen = 0;
            const error = await s.sink.migrate!.apply(s.model, "plant", {
              tagsPerChunk: 1,
              window: 6 * 3_600_000,
              signal: stop.signal,
              onProgress: (p) => {
                if (p.step.name === "WonderwareHistoryHourly" && ++seen === 5) {
                  stop.abort(new Error("test stop"));
                }
              },
            }).then(() => undefined, (e) => e);
            assert.ok(error instanceof PluginError, String(error));
            assert.match(error.message, /migrate stopped in WonderwareHistoryHourly/);
            const plan = await s.plan();
            const hourly = plan.steps.find((x) => x.name === "WonderwareHistoryHourly")!;
            assert.equal(hourly.action, "fill");
            assert.ok(
              hourly.changes.includes("an interrupted apply was filling it"),
              hourly.changes.join(),
            );
            assert.equal(hourly.chunks!.done, 5);
            const progress: MigrationProgress[] = [];
            const resumed = await s.apply({ onProgress: (p) => progress.push(p) });
            assert.equal(resumed.skipped, 5);
            assert.equal(progress.at(-1)!.done, progress.at(-1)!.total);
            assert.deepEqual(pendingSteps(await s.plan()), []);
            await assertRollupsEqualRaw(s.sink.queries!);
            assert.equal(
              await one(
                db,
                "SELECT count() FROM {db}._pipeline_units FINAL WHERE startsWith(unit, 'migrate:fill:WonderwareHistoryHourly:')",
              ),
              "0",
              "a finished fill's chunks are forgotten",
            );
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "a partitioning change is rebuilt: copied in chunks, exchanged, the old table dropped",
        async () => {
          const db = await stored({});
          const rows =
            `SELECT TagName, DateTime, Value, Quality, QualityDetail FROM {db}.WonderwareHistory FINAL ORDER BY TagName, DateTime FORMAT JSONEachRow`;
          const before = await one(db, rows);
          const s = await open(db, { partitionBy: "toYYYYMMDD(DateTime)" });
          try {
            const [step] = (await s.plan()).steps;
            assert.equal(step!.action, "rebuild");
            assert.deepEqual(
              step!.changes[0],
              "partition key is toYYYYMM(DateTime), the spec says toYYYYMMDD(DateTime)",
            );
            assert.match(
              step!.statements[0]!,
              /^CREATE TABLE IF NOT EXISTS `t_\w+`\.`WonderwareHistory__migrate` /,
            );
            assert.deepEqual(step!.then, [
              `EXCHANGE TABLES \`${db}\`.\`WonderwareHistory__migrate\` AND \`${db}\`.\`WonderwareHistory\``,
              `DROP TABLE \`${db}\`.\`WonderwareHistory__migrate\` SYNC`,
            ]);
            await applyTwice(s, db);
            assert.equal(await one(db, rows), before);
            assert.equal(
              await one(
                db,
                `SELECT partition_key FROM system.tables WHERE database = '{db}' AND name = 'WonderwareHistory'`,
              ),
              "toYYYYMMDD(DateTime)",
            );
            assert.equal(await one(db, `EXISTS TABLE {db}.WonderwareHistory__migrate`), "0");
          } finally {
            await s.close();
          }
        },
      );

      await t.step("a setting is changed in place, one the spec no longer sets reset", async () => {
        const db = await stored({ settings: "{ merge_with_ttl_timeout: 7200 }" });
        const s = await open(db, { settings: "{ min_age_to_force_merge_seconds: 600 }" });
        try {
          const [step] = (await s.plan()).steps;
          assert.deepEqual(step!.statements, [
            `ALTER TABLE \`${db}\`.\`WonderwareHistory\` MODIFY SETTING min_age_to_force_merge_seconds = 600`,
            `ALTER TABLE \`${db}\`.\`WonderwareHistory\` RESET SETTING merge_with_ttl_timeout`,
          ]);
          await applyTwice(s, db);
        } finally {
          await s.close();
        }
      });

      await t.step(
        "an aggregation with a new column gets it in place, then every bucket recomputed",
        async () => {
          const db = await stored({});
          const column = "spread: { type: Nullable(Float64), expr: max(Value) - min(Value) }";
          const s = await open(db, { minuteColumns: [column] });
          try {
            const [step] = (await s.plan()).steps;
            assert.equal(step!.action, "fill");
            assert.deepEqual(step!.statements, [
              `ALTER TABLE \`${db}\`.\`WonderwareHistoryAggregated\` ADD COLUMN \`spread\` Nullable(Float64) AFTER \`gaps\``,
            ]);
            assert.deepEqual(step!.changes, [
              "column spread Nullable(Float64) is new",
              "every bucket is recomputed from WonderwareHistory, except buckets whose source rows retention may have trimmed",
            ]);
            await applyTwice(s, db);
            const spread =
              "SELECT TagName, minute, spread FROM WonderwareHistoryAggregated FINAL ORDER BY TagName, minute";
            assert.deepEqual(
              await s.sink.queries!.query(spread),
              await s.sink.queries!.query(
                "SELECT TagName, toStartOfMinute(DateTime) AS minute, max(Value) - min(Value) AS spread FROM WonderwareHistory FINAL GROUP BY TagName, minute ORDER BY TagName, minute",
              ),
            );
            assert.deepEqual(
              await s.sink.queries!.query(STORED_MINUTES),
              await s.sink.queries!.query(RECOMPUTED_MINUTES),
            );
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "a derived table is filled when new; its view is dropped and created again when its SELECT changes",
        async () => {
          const db = await stored({});
          const first = await open(db, { derived: "Value" });
          try {
            const plan = await first.plan();
            assert.deepEqual(plan.steps.map((x) => [x.name, x.action]), [
              ["Doubled", "fill"],
              ["Doubled__mv", "create"],
            ]);
            await applyTwice(first, db);
            assert.equal(
              await one(db, "SELECT count() FROM {db}.Doubled"),
              await one(db, "SELECT count() FROM {db}.WonderwareHistory"),
            );
          } finally {
            await first.close();
          }
          const s = await open(db, { derived: "Value * 2" });
          try {
            const [step] = (await s.plan()).steps;
            assert.equal(step!.action, "view");
            assert.equal(step!.statements[0], `DROP VIEW IF EXISTS \`${db}\`.\`Doubled__mv\` SYNC`);
            assert.match(
              step!.statements[1]!,
              /^CREATE MATERIALIZED VIEW IF NOT EXISTS .* TO `t_\w+`\.`Doubled` AS SELECT .*Value \* 2/,
            );
            await applyTwice(s, db);
            await ok(
              store,
              `INSERT INTO ${db}.WonderwareHistory (DateTime, TagName, Value, Quality) VALUES (now64(7), 'x', 21, 0)`,
            );
            assert.equal(await one(db, "SELECT Value FROM {db}.Doubled WHERE TagName = 'x'"), "42");
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "a sort key change is rebuilt; interrupted, it resumes its copy, or, once exchanged, drops the old table; a copy nobody started is left alone",
        async () => {
          const db = await stored({});
          const rows =
            `SELECT TagName, DateTime, Value FROM {db}.WonderwareHistory FINAL ORDER BY TagName, DateTime FORMAT JSONEachRow`;
          const before = await one(db, rows);
          const s = await open(db, { orderBy: "[TagName, Quality, DateTime]", tagsPerChunk: 1 });
          try {
            const stop = new AbortController();
            const error = await s.sink.migrate!.apply(s.model, "plant", {
              tagsPerChunk: 1,
              signal: stop.signal,
              onProgress: (p) => p.done === 2 && stop.abort(new Error("test stop")),
            }).then(() => undefined, (e) => e);
            assert.match(String(error), /migrate stopped in WonderwareHistory/);
            const [step] = (await s.plan()).steps;
            assert.equal(step!.action, "rebuild");
            assert.deepEqual(step!.changes.slice(0, 2), [
              "an interrupted apply was rebuilding it",
              "sort key is (TagName, DateTime), the spec says (TagName, Quality, DateTime)",
            ]);
            assert.equal(step!.chunks!.done, 2);
            assert.equal((await s.apply()).skipped, 2);
            assert.equal(await one(db, rows), before);
            assert.deepEqual(pendingSteps(await s.plan()), []);

            // Exchanged, then stopped before the old table was dropped.
            await ok(
              store,
              `CREATE TABLE ${db}.WonderwareHistory__migrate AS ${db}.WonderwareHistory`,
            );
            const [unknown] = (await s.plan()).steps;
            assert.equal(unknown!.action, "manual");
            assert.match(
              unknown!.changes[0]!,
              /WonderwareHistory__migrate exists, but no rebuild of WonderwareHistory is under way: drop it by hand/,
            );
            assert.match(String(await s.apply().catch((e) => e)), /nothing was applied/);
            await ok(
              store,
              `INSERT INTO ${db}._pipeline_units (pipeline, unit, rows) VALUES ('plant', 'migrate:rebuild:WonderwareHistory', 0)`,
            );
            const [finish] = (await s.plan()).steps;
            assert.deepEqual(finish!.then, [
              `DROP TABLE \`${db}\`.\`WonderwareHistory__migrate\` SYNC`,
            ]);
            await applyTwice(s, db);
            assert.equal(await one(db, `EXISTS TABLE {db}.WonderwareHistory__migrate`), "0");
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "per-row copies of per-batch fields are moved in place, every row keeping its value",
        async () => {
          const version = "wwVersion: { type: Nullable(String), value: fields.wwVersion";
          const db = await stored({ columns: [`${version} }`] });
          await ok(
            store,
            `ALTER TABLE ${db}.WonderwareHistory UPDATE wwVersion = if(Quality = 1, NULL, 'LATEST') WHERE 1 SETTINGS mutations_sync = 2`,
          );
          const read =
            "SELECT countIf(wwVersion = 'LATEST'), countIf(wwVersion IS NULL) FROM {db}.WonderwareHistory";
          const before = await one(db, read);
          const s = await open(db, { columns: [`${version}, stored: per_batch }`] });
          try {
            const [step] = (await s.plan()).steps;
            assert.equal(step!.action, "alter");
            assert.deepEqual(step!.changes, [
              "1 columns stored per row are kept once per batch by the spec (wwVersion): moved into _batch_fields, every row keeping its values",
            ]);
            assert.equal(step!.statements.length, 5);
            await applyTwice(s, db);
            assert.equal(await one(db, read), before);
          } finally {
            await s.close();
          }
        },
      );

      await t.step(
        "a column the spec drops discards stored values: applied only when allowed",
        async () => {
          const db = await stored({
            columns: ["OPCQuality: { type: Nullable(Int32), value: fields.OPCQuality }"],
          });
          const s = await open(db, {});
          try {
            const [step] = (await s.plan()).steps;
            assert.equal(step!.loses, "the stored values of OPCQuality");
            const error = await s.apply().then(() => undefined, (e) => e);
            assert.match(
              String(error),
              /nothing was applied: the plan discards the stored values of OPCQuality \(WonderwareHistory\); apply it with --allow-loss/,
            );
            await applyTwice(s, db);
          } finally {
            await s.close();
          }
        },
      );
    } finally {
      await store.stop();
    }
  },
});
