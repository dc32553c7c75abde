/**
 * A route's limits hold in the store itself: a query past max_memory or max_bytes gets 422, a
 * slow one gets 504 at the route's timeout (and the store stops it: the next query is answered
 * at once), and a client that goes away gets its 504 at once. Against the embedded store,
 * through the sink, with app.request().
 */
import assert from "node:assert/strict";
import { createHealth } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { startTestStore } from "../tests/_clickhouse.ts";
import { createApi } from "./app.ts";
import { api } from "./spec.ts";

const ROUTES = {
  // groupArray over 10 million numbers: some 100 MB, past a 16 MB cap.
  "/memory": {
    sql: "SELECT length(groupArray(number)) AS n FROM numbers(10000000)",
    max_memory: "16MB",
  },
  // 5,000 rows of 1 KB: 5 MB, past a 1 MB cap.
  // (Not a constant, which ClickHouse holds once however many rows it has.)
  "/bytes": {
    sql: "SELECT repeat(toString(number % 10), 1000) AS s FROM numbers(5000)",
    max_bytes: "1MB",
  },
  // Half a second per row, one row per block: 10 s in all.
  "/slow": {
    sql: "SELECT sleepEachRow(0.5) AS z FROM numbers(20) SETTINGS max_block_size = 1",
    timeout: "1s",
  },
  "/slow_long": {
    sql: "SELECT sleepEachRow(0.5) AS z FROM numbers(20) SETTINGS max_block_size = 1",
    timeout: "10s",
  },
  "/quick": { sql: "SELECT 1 AS n" },
};

Deno.test({
  name: "route limits hold in the store: 422 past max_memory and max_bytes, 504 at the timeout",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    const options = clickhouse.options.parse({ url: store.url, database: "default" });
    const sink = await clickhouse.create(options, {
      log: createLogger({ level: "error", format: "json" }),
      signal: new AbortController().signal,
      clock: systemClock,
      secrets: new Set(),
      dataDir: "/nonexistent",
    });
    const app = createApi(api.parse({ max_concurrent_queries: 4, routes: ROUTES }), {
      queries: sink.queries,
      health: createHealth(),
      log: createLogger({ level: "error", format: "json" }),
    });
    const get = async (path: string, init?: RequestInit) => {
      const t0 = performance.now();
      const res = await app.request(path, init);
      return { status: res.status, body: await res.json(), ms: performance.now() - t0 };
    };
    try {
      await t.step("max_memory: 422 naming the cap", async () => {
        const r = await get("/memory");
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.equal(
          r.body.error,
          "the query needs more memory than this route's cap of 16MB; narrow the query",
        );
      });

      await t.step("max_bytes: 422 naming the caps", async () => {
        const r = await get("/bytes");
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.equal(
          r.body.error,
          "the result is larger than this route's cap of 100000 rows or 1MB; narrow the query",
        );
      });

      await t.step("a slow query: 504 within the timeout and a second", async () => {
        const r = await get("/slow");
        assert.equal(r.status, 504);
        assert.ok(r.ms < 2_000, `answered after ${Math.round(r.ms)} ms`);
        const next = await get("/quick");
        assert.equal(next.status, 200);
        assert.ok(next.ms < 1_500, `the store is free again after ${Math.round(next.ms)} ms`);
      });

      await t.step("a client that goes away: 504 at once, not at the 10 s timeout", async () => {
        const client = new AbortController();
        setTimeout(() => client.abort(), 300);
        const r = await get("/slow_long", { signal: client.signal });
        assert.equal(r.status, 504);
        assert.ok(r.ms < 1_300, `answered after ${Math.round(r.ms)} ms`);
      });
    } finally {
      await sink.close();
      await store.stop();
    }
  },
});
