/**
 * An existing deployment's raw table, as the shipped spec created it before codecs (no codec,
 * StartDateTime and vValue stored on every row), brought to the compact table by `migrate`:
 * no step discards anything, every row reads back as before, and the table is smaller.
 */
import assert from "node:assert/strict";
import { createLogger } from "../engine/log.ts";
import { formatPlan, pendingSteps } from "../engine/migration.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import type { ReadingsTable, StorageModel } from "../engine/spec/storage.ts";
import type { Reading } from "../engine/types.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { DEFAULT_PLANT, generatePlant } from "../simulator/historian/plant.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";

const HOUR = 36_000_000_000n;

async function open(url: string, db: string) {
  const env: Record<string, string> = {
    CLICKHOUSE_URL: url,
    CLICKHOUSE_DB: db,
    WONDERWARE_HOST: "unused",
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => env[n],
  });
  const sink: Sink = await clickhouse.create(loaded.plugins.sink.options as never, {
    log: createLogger({ level: "error", format: "json", write: () => {} }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
    spec: "pipelines/wonderware.yaml",
  });
  const { tables, aggregations, assets } = loaded.spec;
  const model: StorageModel = { tables, aggregations, assets };
  const chunks = {
    tagsPerChunk: loaded.spec.chunking.tags_per_query,
    window: loaded.spec.chunking.window,
  };
  return { sink, model, chunks, name: loaded.spec.name };
}

/** The model before codecs: the same raw table, every column stored, the store's compression. */
function beforeCodecs(model: StorageModel): StorageModel {
  const raw = model.tables.WonderwareHistory as ReadingsTable;
  const columns = Object.fromEntries(
    Object.entries(raw.columns).map(([n, c]) => {
      const { codec: _, ...plain } = c;
      return [n, c.stored === "per_batch" ? plain : { ...plain, stored: "per_row" as const }];
    }),
  );
  return { ...model, tables: { ...model.tables, WonderwareHistory: { ...raw, columns } } };
}

/** Two hours of a realistic plant as the Wonderware source delivers them: vValue beside Value. */
function readings(): Reading[] {
  // Yesterday, on the hour: inside the raw table's retention.
  const origin = BigInt(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 86_400_000) * 10_000n;
  const plant = generatePlant(
    { ...DEFAULT_PLANT, analog: 12, discrete: 2, string: 2, systemTags: false, shape: "realistic" },
    origin,
  );
  return plant.flatMap((g) =>
    [...g.series.range(origin, false, origin + 2n * HOUR)].map((p) => ({
      tag: g.meta.name,
      time: p.t,
      value: p.value,
      text: p.text ?? (p.value === null ? null : String(p.value)),
      quality: p.quality === 0 ? "good" as const : "bad" as const,
      qualityCode: p.quality,
      fields: { QualityDetail: p.qd, OPCQuality: p.opc, wwTagKey: g.meta.key },
    }))
  );
}

const READ_BACK =
  "SELECT TagName, toString(DateTime) AS t, Value, vValue, toString(StartDateTime) AS start, Quality, QualityDetail, OPCQuality, wwTagKey, wwRetrievalMode FROM WonderwareHistory FINAL ORDER BY TagName, DateTime";

Deno.test({
  name:
    "migrate brings a raw table from before codecs to the compact one, every row reading the same",
  sanitizeResources: false, // the store's process and the client's keep-alive sockets
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    const db = testDatabase();
    try {
      const old = await open(store.url, db);
      const rs = readings();
      try {
        await old.sink.prepare(beforeCodecs(old.model), old.name);
        await old.sink.write({ readings: rs, fields: { wwRetrievalMode: "DELTA" } });
      } finally {
        await old.sink.close();
      }
      const size = async () => {
        await store.sql(`OPTIMIZE TABLE ${db}.WonderwareHistory FINAL`).then((r) => r.text());
        const r = await store.sql(
          `SELECT sum(data_compressed_bytes) FROM system.parts WHERE database = '${db}' AND table = 'WonderwareHistory' AND active`,
        );
        return Number(await r.text());
      };
      const s = await open(store.url, db);
      try {
        const before = await s.sink.queries!.query(READ_BACK);
        assert.equal(before.length, rs.length);
        const bytesBefore = await size();
        const refusal = await s.sink.prepare(s.model, s.name).then(() => undefined, (e) => e);
        assert.ok(refusal instanceof Error, "run refuses the table until migrate has run");
        const plan = await s.sink.migrate!.plan(s.model, s.name, s.chunks);
        const steps = pendingSteps(plan);
        assert.deepEqual(steps.map((x) => [x.name, x.action, x.loses]), [
          ["WonderwareHistory", "alter", undefined],
        ], formatPlan(plan, "migrate"));
        const statements = steps[0]!.statements.map((x) =>
          x.replace(/^ALTER TABLE `\w+`\.`\w+` /, "")
        );
        assert.ok(
          statements.includes(
            "MODIFY COLUMN `DateTime` DateTime64(7, 'UTC') CODEC(Delta(8), ZSTD(3))",
          ),
          statements.join("\n"),
        );
        assert.ok(statements.includes("DROP COLUMN `StartDateTime`"));
        assert.ok(statements.includes("MATERIALIZE COLUMN `_vValue` SETTINGS mutations_sync = 2"));
        await s.sink.migrate!.apply(s.model, s.name, s.chunks); // without --allow-loss
        assert.deepEqual(pendingSteps(await s.sink.migrate!.plan(s.model, s.name, s.chunks)), []);
        await s.sink.prepare(s.model, s.name);
        assert.deepEqual(await s.sink.queries!.query(READ_BACK), before);
        const kept = await s.sink.queries!.query<{ kept: string; text: string }>(
          "SELECT countIf(_vValue IS NOT NULL) AS kept, countIf(Value IS NULL AND vValue IS NOT NULL) AS text FROM WonderwareHistory",
        );
        assert.equal(kept[0]!.kept, kept[0]!.text, "only the string tags' texts are kept");
        const bytesAfter = await size();
        assert.ok(bytesAfter < bytesBefore / 2, `${bytesBefore} bytes before, ${bytesAfter} after`);
      } finally {
        await s.sink.close();
      }
    } finally {
      await store.stop();
    }
  },
});
