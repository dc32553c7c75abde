import assert from "node:assert/strict";
import { clausesOf, mentions, settingsOf } from "./_clauses.ts";
import { sameEngine } from "./drift.ts";

const RAW =
  "ReplacingMergeTree(IngestedAt) PARTITION BY toYYYYMM(DateTime) ORDER BY (TagName, DateTime) " +
  "TTL DateTime + toIntervalDay(90), DateTime + toIntervalDay(7) TO VOLUME 'cold ORDER BY x' " +
  "SETTINGS storage_policy = 'a, b', index_granularity = 8192";

Deno.test("clausesOf() splits engine_full at its clauses, not inside quotes or parentheses", () => {
  assert.deepEqual(clausesOf(RAW), {
    engine: "ReplacingMergeTree(IngestedAt)",
    "PARTITION BY": "toYYYYMM(DateTime)",
    "ORDER BY": "(TagName, DateTime)",
    TTL: "DateTime + toIntervalDay(90), DateTime + toIntervalDay(7) TO VOLUME 'cold ORDER BY x'",
    SETTINGS: "storage_policy = 'a, b', index_granularity = 8192",
  });
  assert.deepEqual(clausesOf("MergeTree ORDER BY tuple()"), {
    engine: "MergeTree",
    "ORDER BY": "tuple()",
  });
});

Deno.test("settingsOf() reads name = value pairs, commas in quoted values kept", () => {
  assert.deepEqual(
    [...settingsOf(clausesOf(RAW).SETTINGS)],
    [["storage_policy", "'a, b'"], ["index_granularity", "8192"]],
  );
  assert.equal(settingsOf(undefined).size, 0);
});

Deno.test("sameEngine() takes settings in any order, and nothing else", () => {
  const moved = RAW.replace(
    "storage_policy = 'a, b', index_granularity = 8192",
    "index_granularity = 8192, storage_policy = 'a, b'",
  );
  assert.ok(sameEngine(RAW, moved));
  assert.ok(!sameEngine(RAW, RAW.replace("toIntervalDay(90)", "toIntervalDay(180)")));
  assert.ok(!sameEngine(RAW, RAW.replace(", index_granularity = 8192", "")));
});

Deno.test("mentions() finds a column as a whole name in an expression", () => {
  assert.ok(mentions("toYYYYMM(DateTime)", "DateTime"));
  assert.ok(mentions("TagName, `Date Time`", "Date Time"));
  assert.ok(!mentions("toYYYYMM(DateTimeLocal)", "DateTime"));
  assert.ok(!mentions(undefined, "DateTime"));
});
