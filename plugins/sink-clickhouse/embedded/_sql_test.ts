import assert from "node:assert/strict";
import { inspect, settingsClause } from "./_sql.ts";

Deno.test("inspect() finds the keyword and a trailing FORMAT clause", () => {
  assert.deepEqual(inspect("SELECT 1 \nFORMAT JSONEachRow"), {
    keyword: "SELECT",
    format: "JSONEachRow",
    multiple: false,
    text: "SELECT 1 \nFORMAT JSONEachRow",
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
