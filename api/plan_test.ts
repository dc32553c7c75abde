import assert from "node:assert/strict";
import { route } from "./spec.ts";
import { fitLevel, planQueries } from "./plan.ts";

const series = route.parse({
  params: {
    tags: { type: "string_list", required: true },
    start_ts: { type: "timestamp", required: true },
    end_ts: { type: "timestamp", required: true },
    aggregation: { type: "string", enum: ["auto", "raw"], default: "auto" },
    max_data_points: { type: "int", default: 1000 },
  },
  variants: {
    by: "aggregation",
    fit: {
      value: "auto",
      from: "start_ts",
      to: "end_ts",
      points: "max_data_points",
      per_bucket: 3,
      levels: { raw: "0s", minutes: "1m", hours: "1h" },
      raw_tags: { param: "tags", sql: "SELECT tag FROM assets WHERE type = 'string'" },
    },
    sql: {
      raw:
        "SELECT {tags:Array(String)}, {start_ts:Int64}, {end_ts:Int64}, {max_data_points:UInt32}",
      minutes: "SELECT 'minutes'",
      hours: "SELECT 'hours'",
    },
  },
  response: "series",
});
const HOUR = 3_600_000;
const ask = (spanMs: number, points = 1000, tags = ["a", "b"]) => ({
  tags,
  start_ts: 0,
  end_ts: spanMs,
  aggregation: "auto",
  max_data_points: points,
});

Deno.test("fit: the widest level whose buckets are not wider than the request's", () => {
  const fit = series.variants!.fit!;
  // 333 buckets: under a minute each up to 333 × 60 s − 1 ms of range.
  assert.equal(fitLevel(fit, ask(333 * 60_000 - 333 - 1)).level, "raw");
  assert.equal(fitLevel(fit, ask(333 * 60_000 - 1)).level, "minutes");
  assert.equal(fitLevel(fit, ask(24 * HOUR)).level, "minutes");
  assert.equal(fitLevel(fit, ask(30 * 24 * HOUR)).level, "hours");
  // Fewer points asked, wider buckets: 24 h in one bucket reads the hourly level.
  assert.equal(fitLevel(fit, ask(24 * HOUR, 3)).level, "hours");
  assert.equal(fitLevel(fit, ask(24 * HOUR)).finest, "raw");
});

Deno.test("fit: raw tags are split off to the finest level, looked up only when needed", async () => {
  let lookups = 0;
  const strings = (sql: string) => {
    lookups++;
    assert.match(sql, /FROM assets/);
    return Promise.resolve(new Set(["b", "c"]));
  };
  const sqlOf = (q: { sql: string }) => q.sql.slice(0, 16);

  // A short range reads raw for every tag: one query, no lookup.
  const short = await planQueries(series, ask(HOUR), strings);
  assert.deepEqual(short.map((q) => q.values.tags), [["a", "b"]]);
  assert.equal(lookups, 0);
  // aggregation=raw is not the fit value: its own SQL, no lookup.
  const forced = await planQueries(series, { ...ask(30 * 24 * HOUR), aggregation: "raw" }, strings);
  assert.equal(forced.length, 1);
  assert.match(forced[0]!.sql, /^SELECT \{tags/);
  assert.equal(lookups, 0);

  // A day: the numeric tag from the minutes, the text tag raw.
  const day = await planQueries(series, ask(24 * HOUR, 1000, ["a", "b", "d"]), strings);
  assert.equal(lookups, 1);
  assert.deepEqual(day.map((q) => [sqlOf(q), q.values.tags]), [
    ["SELECT 'minutes'", ["a", "d"]],
    ["SELECT {tags:Arr", ["b"]],
  ]);
  assert.equal(day[0]!.values.end_ts, 24 * HOUR, "the other values are kept");
  // Only text tags: only the raw query; only numeric tags: only the level's.
  assert.deepEqual(
    (await planQueries(series, ask(24 * HOUR, 1000, ["c"]), strings)).map(sqlOf),
    ["SELECT {tags:Arr"],
  );
  assert.deepEqual(
    (await planQueries(series, ask(24 * HOUR, 1000, ["a"]), strings)).map(sqlOf),
    ["SELECT 'minutes'"],
  );
});

Deno.test("fit: what validate refuses", () => {
  const broken = route.safeParse({
    params: {
      tags: { type: "string" },
      start_ts: { type: "timestamp" },
      aggregation: { type: "string", enum: ["auto", "raw"] },
      max_data_points: { type: "int" },
    },
    variants: {
      by: "aggregation",
      fit: {
        value: "best",
        from: "start_ts",
        to: "end_ts",
        points: "max_data_points",
        levels: { raw: "0s", minutes: "1m" },
        raw_tags: { param: "tags", sql: "SELECT {x:String}" },
      },
      sql: {
        raw: "SELECT {tags:String}, {start_ts:Int64}, {max_data_points:UInt32}",
        hourly: "SELECT 1",
      },
    },
  });
  assert.equal(broken.success, false);
  const issues = broken.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).sort();
  assert.deepEqual(issues, [
    'variants.fit.raw_tags.param: "tags" is not a string_list parameter of this route',
    "variants.fit.raw_tags.sql: {x:String} is not a declared parameter; the route declares none",
    "variants.fit.raw_tags: splits a request by tag, so the route needs response: series",
    'variants.fit.to: "end_ts" is not a timestamp parameter of this route',
    'variants.fit.value: "best" is not a value of "aggregation" (auto, raw)',
    'variants.sql.hourly: no value of "aggregation" and no level of fit picks this SQL',
    'variants.sql: no SQL for "auto"',
    'variants.sql: no SQL for "minutes"',
  ]);
});
