/**
 * What the status route and /metrics say of the store's tables: rows and bytes on disk per
 * table, from system.parts, read at most every 30 s, and never holding up an answer when the
 * store hangs.
 */
import assert from "node:assert/strict";
import { createHealth } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import type { QueryService } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import { startTestStore, testDatabase } from "../tests/_clickhouse.ts";
import { createApi } from "./app.ts";
import { TABLE_SIZES_SQL } from "./metrics.ts";
import { apiOf } from "./spec.ts";

const STATUS = "/consumption/wonderware_status";
const SIZES = [
  { table: "WonderwareHistory", rows: "1000000", bytes: "2950000" },
  { table: "AnalogSummaryHistory__data", rows: "0", bytes: "0" },
];

async function api(queries: QueryService) {
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => ({ WONDERWARE_HOST: "x", CLICKHOUSE_URL: "http://127.0.0.1:1" })[n],
  });
  return createApi(apiOf(loaded.spec)!, {
    queries,
    health: createHealth(),
    log: createLogger({ level: "error", format: "json", write: () => {} }),
  });
}

/** A store answering the sizes query with SIZES and every other query with totals. */
function answering(asked: string[]): QueryService {
  return {
    query: (sql: string) => {
      asked.push(sql);
      return Promise.resolve(sql === TABLE_SIZES_SQL ? SIZES : [{ tags: 2, points: 1000 }]);
    },
    ping: () => Promise.resolve(),
  } as unknown as QueryService;
}

Deno.test("the status route and /metrics give rows and bytes on disk per table", async () => {
  const asked: string[] = [];
  const app = await api(answering(asked));
  const body = await (await app.request(STATUS)).json();
  assert.deepEqual(body.storage, {
    WonderwareHistory: { rows: 1_000_000, bytes: 2_950_000, bytes_per_row: 2.95 },
    AnalogSummaryHistory__data: { rows: 0, bytes: 0, bytes_per_row: null },
  });
  const metrics = await (await app.request("/metrics")).text();
  assert.match(metrics, /^historian_sync_table_rows\{table="WonderwareHistory"\} 1000000$/m);
  assert.match(metrics, /^historian_sync_table_bytes\{table="WonderwareHistory"\} 2950000$/m);
  assert.match(metrics, /^historian_sync_table_bytes_per_row\{table="WonderwareHistory"\} 2.95$/m);
  assert.match(metrics, /^historian_sync_table_rows\{table="AnalogSummaryHistory__data"\} 0$/m);
  assert.doesNotMatch(metrics, /bytes_per_row\{table="AnalogSummaryHistory__data"\}/);
  assert.equal(
    asked.filter((sql) => sql === TABLE_SIZES_SQL).length,
    1,
    "read once for both answers within its period",
  );
});

Deno.test("/metrics with a hung store answers without the table figures", async () => {
  const waiting: (() => void)[] = [];
  const hung = {
    query: (_sql: string, _p: unknown, options?: { signal?: AbortSignal }) =>
      new Promise((_, reject) => {
        waiting.push(() => reject(new Error("released")));
        options?.signal?.addEventListener("abort", () => reject(options.signal!.reason));
      }),
    ping: () => Promise.resolve(),
  } as unknown as QueryService;
  const app = await api(hung);
  try {
    const t0 = performance.now();
    const metrics = await (await app.request("/metrics")).text();
    assert.ok(performance.now() - t0 < 3_500, "within the 2 s it waits, and some");
    assert.match(metrics, /historian_sync_build_info/);
    assert.doesNotMatch(metrics, /historian_sync_table_rows/);
  } finally {
    waiting.splice(0).forEach((f) => f());
  }
});

Deno.test({
  name: "the sizes query reads ClickHouse's active parts of the database, scratch tables left out",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    try {
      const db = testDatabase();
      const run = async (sql: string, inDb = true) => {
        const headers: Record<string, string> = inDb ? { "X-ClickHouse-Database": db } : {};
        const r = await store.sql(sql, "writer", { headers });
        const text = await r.text();
        assert.ok(r.ok, text);
        return text;
      };
      await run(`CREATE DATABASE ${db}`, false);
      await run(`CREATE TABLE ${db}.t (k UInt32) ENGINE = MergeTree ORDER BY k`);
      await run(`CREATE TABLE ${db}.__spec_check_t (k UInt32) ENGINE = MergeTree ORDER BY k`);
      await run(`INSERT INTO ${db}.t SELECT number FROM numbers(1000)`);
      await run(`INSERT INTO ${db}.__spec_check_t SELECT number FROM numbers(10)`);
      const rows = (await run(`${TABLE_SIZES_SQL} FORMAT JSONEachRow`)).trim().split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(rows.length, 1);
      assert.equal(rows[0].table, "t");
      assert.equal(rows[0].rows, "1000");
      assert.ok(Number(rows[0].bytes) > 0);
    } finally {
      await store.stop();
    }
  },
});
