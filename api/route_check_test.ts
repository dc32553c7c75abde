/** `run`'s check of every route's SQL against the store itself, through the sink (embedded store). */
import assert from "node:assert/strict";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { startTestStore } from "../tests/_clickhouse.ts";
import { checkRoutes } from "./route_check.ts";
import { api } from "./spec.ts";

Deno.test({
  name: "checkRoutes() names the routes the store refuses, with the store's reason, and only those",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    const sink = await clickhouse.create(
      clickhouse.options.parse({ url: store.url, database: "default" }),
      {
        log: createLogger({ level: "error", format: "json" }),
        signal: new AbortController().signal,
        clock: systemClock,
        secrets: new Set(),
        dataDir: "/nonexistent",
      },
    );
    try {
      const problems = await checkRoutes(
        api.parse({
          routes: {
            "/fine": {
              params: { n: { type: "int", required: true } },
              sql: "SELECT {n:Int64} + number AS v FROM numbers(3)",
            },
            "/unknown_column": { sql: "SELECT no_such_column FROM numbers(3)" },
            "/unknown_table": { sql: "SELECT 1 FROM no_such_table" },
            "/one_variant": {
              params: { by: { type: "string", enum: ["a", "b"], default: "a" } },
              variants: { by: "by", sql: { a: "SELECT 1 AS v", b: "SELECT nope() AS v" } },
            },
          },
        }),
        sink.queries!,
        createLogger({ level: "error", format: "json", write: () => {} }),
      );
      assert.deepEqual([...problems.keys()].sort(), [
        "/one_variant",
        "/unknown_column",
        "/unknown_table",
      ]);
      assert.match(
        problems.get("/unknown_column")!,
        /^the store refuses its sql: .*no_such_column/,
      );
      assert.match(problems.get("/unknown_table")!, /no_such_table/);
      assert.match(problems.get("/one_variant")!, /^the store refuses its variants\.sql\.b: /);
    } finally {
      await sink.close();
      await store.stop();
    }
  },
});
