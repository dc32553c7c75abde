import assert from "node:assert/strict";
import { inspect, settingsClause } from "./_sql.ts";
import { withSettings } from "./_statement.ts";

Deno.test("inspect() finds the keyword and a trailing FORMAT clause", () => {
  assert.deepEqual(inspect("SELECT 1 \nFORMAT JSONEachRow"), {
    keyword: "SELECT",
    format: "JSONEachRow",
    multiple: false,
    text: "SELECT 1 \nFORMAT JSONEachRow",
    formatAt: 10,
  });
  assert.equal(inspect("select format from t").format, undefined);
  assert.equal(inspect("SELECT format('{}', x) FROM t FORMAT CSV SETTINGS a=1").format, "CSV");
  assert.equal(inspect("SELECT 'FORMAT JSON' -- FORMAT CSV").format, undefined);
  assert.equal(
    inspect('INSERT INTO t (format) FORMAT JSONEachRow {"format":1}').format,
    "JSONEachRow",
  );
  assert.equal(inspect("  with x as (select 1) select * from x").keyword, "WITH");
});

Deno.test("inspect() locates SETTINGS, FORMAT and an input() call of an INSERT", () => {
  const sql =
    "INSERT INTO t (a, b) SELECT a, {k:String} FROM input('a UInt8') SETTINGS x = 1 FORMAT RowBinary";
  const info = inspect(sql);
  assert.equal(info.format, "RowBinary");
  assert.equal(sql.slice(info.formatAt), "FORMAT RowBinary");
  assert.equal(sql.slice(info.settingsAt, info.formatAt), "SETTINGS x = 1 ");
  const [start, args, end] = info.inputCall!;
  assert.equal(sql.slice(start, end), "input('a UInt8')");
  assert.equal(sql.slice(args, end - 1), "'a UInt8'");
  assert.equal(inspect("INSERT INTO t FORMAT CSV").inputCall, undefined);
});

Deno.test("inspect() tells one statement with a trailing semicolon from several", () => {
  assert.deepEqual(inspect("SELECT 1;  "), {
    keyword: "SELECT",
    format: undefined,
    multiple: false,
    text: "SELECT 1",
  });
  assert.equal(inspect("SELECT 1; SELECT 2").multiple, true);
  assert.equal(inspect("SELECT ';' AS a; -- done").multiple, false);
  assert.equal(inspect("SELECT 1 /* ; */").multiple, false);
  assert.equal(inspect("SET a=1; DROP TABLE t").multiple, true);
});

Deno.test("settingsClause() quotes text values and rejects odd names", () => {
  assert.equal(
    settingsClause([["max_threads", "2"], ["insert_deduplication_token", "a'b\\c"]]),
    "SETTINGS max_threads = 2, insert_deduplication_token = 'a\\'b\\\\c'",
  );
  assert.equal(settingsClause([]), "");
  assert.throws(
    () => settingsClause([["a; DROP", "1"]]),
    /Code: 115\. DB::Exception: Unknown setting a; DROP/,
  );
});

Deno.test("withSettings() joins a statement's own SETTINGS clause, an INSERT … SELECT's too", () => {
  const caps: [string, string][] = [["max_memory_usage", "100"], ["max_threads", "2"]];
  const select = "SELECT 1 SETTINGS max_threads = 1";
  assert.equal(
    withSettings(select, caps, inspect(select)),
    "SELECT 1 SETTINGS max_memory_usage = 100, max_threads = 1",
  );
  const insert = "INSERT INTO t SELECT number FROM numbers(3) SETTINGS max_threads = 1";
  assert.equal(
    withSettings(insert, caps, inspect(insert)),
    "INSERT INTO t SELECT number FROM numbers(3) SETTINGS max_memory_usage = 100, max_threads = 1",
  );
  const values = "INSERT INTO t VALUES (1)";
  assert.equal(
    withSettings(values, caps, inspect(values)),
    "INSERT INTO t SETTINGS max_memory_usage = 100, max_threads = 2 VALUES (1)",
  );
});
