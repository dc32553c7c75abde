/** `validate --connect`: the store itself checks the model and the route SQL, and keeps nothing. */
import assert from "node:assert/strict";
import { startTestStore, testDatabase } from "./_clickhouse.ts";

Deno.test({
  name:
    "validate --connect reports what only ClickHouse can tell, at the spec's lines, and leaves no trace",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    try {
      const db = testDatabase();
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "main.ts",
          "validate",
          "--connect",
          "tests/fixtures/connect/bad_sql.yaml",
        ],
        env: { CLICKHOUSE_URL: store.url, CLICKHOUSE_DB: db, LOG_LEVEL: "error" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
      assert.equal(out.code, 1);
      assert.equal(stderr.length, 2, stderr.join("\n"));
      assert.match(
        stderr[0]!,
        /^tests\/fixtures\/connect\/bad_sql\.yaml:21:5 aggregations\.PerMinute: ClickHouse: .*avgg/,
      );
      assert.match(
        stderr[1]!,
        /^tests\/fixtures\/connect\/bad_sql\.yaml:35:12 api\.routes\.\/consumption\/bad\.sql: ClickHouse: .*Nope/,
      );
      const left = await fetch(`${store.url}/?query=${encodeURIComponent("SHOW DATABASES")}`);
      assert.doesNotMatch(await left.text(), /__validate_/, "the scratch database is dropped");
    } finally {
      await store.stop();
    }
  },
});
