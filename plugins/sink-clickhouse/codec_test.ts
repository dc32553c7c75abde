/**
 * codecProblem() against ClickHouse itself: every case is also a CREATE TABLE in the embedded
 * engine, which must accept exactly what the check accepts (so `validate` refuses no codec
 * ClickHouse takes, and passes none it refuses).
 */
import assert from "node:assert/strict";
import { codecProblem, parseCodecs } from "./codec.ts";
import { startTestStore, testDatabase } from "../../tests/_clickhouse.ts";

const T = "DateTime64(7, 'UTC')";

/** [type, codec, the check's message (a fragment), or undefined where both accept it]. */
const CASES: [string, string, string?][] = [
  [T, "Delta, ZSTD(3)"],
  [T, "DoubleDelta, ZSTD(1)"],
  [T, "DoubleDelta"],
  [T, "T64, ZSTD(1)"],
  [T, "ZSTD(22)"],
  ["Nullable(Float64)", "Delta, ZSTD(3)"],
  ["Nullable(Float64)", "Gorilla, ZSTD(1)"],
  ["Float64", "Gorilla"],
  ["Float64", "FPC(12, 8), ZSTD(3)"],
  ["Float64", "Gorilla, Delta, ZSTD"],
  ["Float32", "FPC"],
  ["Nullable(Int32)", "T64, ZSTD(1)"],
  ["Int64", "T64('bit'), LZ4"],
  ["Int64", "GCD, ZSTD"],
  ["Int64", "Delta(8), ZSTD"],
  ["UInt8", "Delta(1), LZ4HC(9)"],
  ["Decimal(10, 2)", "T64, ZSTD"],
  ["Date", "Delta, ZSTD"],
  ["LowCardinality(String)", "ZSTD(1)"],
  ["LowCardinality(Nullable(String))", "ZSTD(3)"],
  ["Nullable(String)", "LZ4"],
  ["String", "NONE"],
  ["Array(Float64)", "Gorilla, ZSTD"],
  [
    "Float64",
    "T64, ZSTD",
    "T64 is for integers, decimals, dates and times (not floating point), not Float64",
  ],
  [
    "String",
    "Delta, ZSTD",
    "Delta is for numbers, dates and times of 1, 2, 4 or 8 bytes, not String",
  ],
  ["LowCardinality(String)", "DoubleDelta", "DoubleDelta is for numbers, dates and times"],
  ["UUID", "Delta, ZSTD", "not UUID"],
  [T, "Gorilla, ZSTD", "Gorilla is for Float32 and Float64 columns"],
  ["Int64", "FPC, ZSTD", "FPC is for Float32 and Float64 columns"],
  ["Float64", "GCD, ZSTD", "GCD is for integers, decimals, dates and times, not Float64"],
  ["Float64", "ZSTD(3), Delta", "ZSTD(3) must come last"],
  ["Float64", "LZ4, ZSTD", "LZ4 must come last"],
  ["Float64", "Delta", "Delta only transforms the values: add a compression after it"],
  ["Int64", "GCD", "GCD only transforms the values"],
  ["Float64", "Delta, Gorilla, ZSTD", "Gorilla after Delta"],
  ["Float64", "DoubleDelta, FPC", "FPC after DoubleDelta"],
  ["Float64", "NONE, ZSTD", "NONE stores the column uncompressed"],
  ["String", "ZSTD(23)", "ZSTD(23): ZSTD takes a level from 1 to 22"],
  ["String", "ZSTD(1, 2)", "ZSTD takes at most one argument"],
  ["Int64", "Delta(3), ZSTD", "Delta takes 1, 2, 4, 8 (bytes per value)"],
  ["Float64", "FPC(29)", "FPC takes a level from 1 to 28"],
  ["Int64", "Foo", 'unknown codec "Foo"'],
  ["Int64", "zstd", "codec names are case-sensitive: ZSTD"],
];

Deno.test("parseCodecs() reads a chain with arguments, and names what it cannot read", () => {
  assert.deepEqual(parseCodecs("Delta(8), ZSTD(3)"), [["Delta", ["8"]], ["ZSTD", ["3"]]]);
  assert.deepEqual(parseCodecs(" T64('bit') ,LZ4"), [["T64", ["'bit'"]], ["LZ4", []]]);
  assert.equal(
    parseCodecs("ZSTD(3); DROP TABLE x"),
    'cannot read "ZSTD(3); DROP TABLE x" as a codec',
  );
  assert.equal(parseCodecs("Delta,,ZSTD"), "a codec is missing between commas");
});

Deno.test("codecProblem() states each refusal", () => {
  for (const [type, codec, message] of CASES) {
    const problem = codecProblem(codec, type);
    if (message === undefined) assert.equal(problem, undefined, `${type} CODEC(${codec})`);
    else assert.ok(problem?.includes(message), `${type} CODEC(${codec}): ${problem}`);
  }
});

Deno.test({
  name: "codecProblem() accepts exactly what ClickHouse creates",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    try {
      const db = testDatabase();
      await (await store.sql(`CREATE DATABASE ${db}`)).text();
      for (const [i, [type, codec, message]] of CASES.entries()) {
        const r = await store.sql(
          `CREATE TABLE ${db}.c${i} (k UInt8, c ${type} CODEC(${codec})) ENGINE = MergeTree ORDER BY k`,
        );
        const text = await r.text();
        assert.equal(r.ok, message === undefined, `${type} CODEC(${codec}): ${text}`);
      }
    } finally {
      await store.stop();
    }
  },
});
