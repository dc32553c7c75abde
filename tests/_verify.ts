/**
 * The end-to-end check of the invariants: the raw table equals the source exactly (count and
 * content, no duplicates), aggregates equal a recomputation from the raw rows, and MachineData
 * (the asset dimension) holds every tag, placed in the plant.
 */
import assert from "node:assert/strict";
import type { Engine } from "../engine/engine.ts";
import { formatTicks } from "../engine/types.ts";
import type { Reading } from "../engine/types.ts";
import type { QueryService } from "../engine/plugin.ts";

const key = (r: { tag: string; time: bigint }) => `${r.tag}@${r.time}`;

/** Everything the source holds in (from, to], read directly through the plugin. */
async function sourceRows(engine: Engine, from: bigint, to: bigint): Promise<Reading[]> {
  const tags = await engine.source!.discover();
  const out: Reading[] = [];
  for await (const b of engine.source!.read(tags, { from, to })) out.push(...b.readings);
  return out;
}

export async function assertStoredEqualsSource(engine: Engine, from: bigint, to: bigint) {
  const expected = await sourceRows(engine, from, to);
  const stored = await engine.queries!.query<Record<string, unknown>>(
    `SELECT TagName AS tag, toString(intDiv(toUnixTimestamp64Nano(DateTime), 100)) AS t, Value, vValue, Quality, QualityDetail, OPCQuality
     FROM WonderwareHistory FINAL WHERE DateTime > {from:DateTime64(7, 'UTC')} AND DateTime <= {to:DateTime64(7, 'UTC')}`,
    {
      from: formatTicks(from).replace("T", " ").replace("Z", ""),
      to: formatTicks(to).replace("T", " ").replace("Z", ""),
    },
  );
  const [{ n }] = await engine.queries!.query<{ n: number }>(
    "SELECT count() AS n FROM WonderwareHistory",
  ) as [{ n: number }];
  assert.equal(Number(n), stored.length, "no rows outside the range, no duplicates");
  const got = new Map(stored.map((s) => [`${s.tag}@${s.t}`, s]));
  assert.equal(stored.length, expected.length, "as many rows as the source holds");
  for (const e of expected) {
    const s = got.get(key(e));
    assert.ok(s, `missing ${key(e)}`);
    assert.deepEqual([s.Value, s.vValue, s.Quality, s.QualityDetail, s.OPCQuality], [
      e.value,
      e.text,
      e.qualityCode,
      e.fields?.QualityDetail,
      e.fields?.OPCQuality,
    ]);
  }
  const agg = await engine.queries!.query(
    `SELECT TagName, minute, first_value, avg_value, min_value, max_value, count, avg_quality, min_quality
     FROM WonderwareHistoryAggregated FINAL ORDER BY TagName, minute`,
  );
  const recomputed = await engine.queries!.query(
    `SELECT TagName, toStartOfMinute(DateTime) AS minute, argMinIf(Value, DateTime, Value IS NOT NULL) AS first_value,
       if(count(Value) = 0, NULL, arraySum(arraySort(groupArray(Value))) / count(Value)) AS avg_value, min(Value) AS min_value, max(Value) AS max_value, count() AS count,
       avg(Quality) AS avg_quality, min(Quality) AS min_quality
     FROM WonderwareHistory FINAL GROUP BY TagName, minute ORDER BY TagName, minute`,
  );
  assert.deepEqual(agg, recomputed, "aggregates equal a recomputation from raw");
  await assertRollupsEqualRaw(engine.queries!);
  const tags = new Set(expected.map((e) => e.tag));
  const placed = await engine.queries!.query<{ tag: string; machine: string }>(
    "SELECT tag, machine FROM MachineData FINAL",
  );
  for (const tag of tags) {
    const row = placed.find((p) => p.tag === tag);
    assert.ok(row && row.machine !== "", `${tag} is in the asset dimension, placed in the plant`);
  }
}

/** The same invariants for pipelines/ignition.yaml: IgnitionHistory and its aggregates. */
export async function assertIgnitionStored(engine: Engine, from: bigint, to: bigint) {
  const expected = await sourceRows(engine, from, to);
  const stored = await engine.queries!.query<Record<string, unknown>>(
    `SELECT tag, toUnixTimestamp64Milli(t_stamp) AS t, value, text, quality, dataintegrity
     FROM IgnitionHistory FINAL`,
  );
  const [{ n }] = await engine.queries!.query<{ n: number }>(
    "SELECT count() AS n FROM IgnitionHistory",
  ) as [{ n: number }];
  assert.equal(Number(n), stored.length, "no duplicates");
  assert.equal(stored.length, expected.length, "as many rows as the source holds");
  const got = new Map(stored.map((s) => [`${s.tag}@${BigInt(s.t as number) * 10_000n}`, s]));
  for (const e of expected) {
    const s = got.get(key(e));
    assert.ok(s, `missing ${key(e)}`);
    assert.deepEqual(
      [s.value, s.text, s.quality, s.dataintegrity],
      [e.value, e.text, e.quality, e.qualityCode],
    );
  }
  const agg = await engine.queries!.query(
    `SELECT tag, minute, first_value, avg_value, min_value, max_value, count, good
     FROM IgnitionHistoryAggregated FINAL ORDER BY tag, minute`,
  );
  const recomputed = await engine.queries!.query(
    `SELECT tag, toStartOfMinute(t_stamp) AS minute, argMinIf(value, t_stamp, value IS NOT NULL) AS first_value,
       if(count(value) = 0, NULL, arraySum(arraySort(groupArray(value))) / count(value)) AS avg_value,
       min(value) AS min_value, max(value) AS max_value, count() AS count, countIf(quality = 'good') AS good
     FROM IgnitionHistory FINAL GROUP BY tag, minute ORDER BY tag, minute`,
  );
  assert.deepEqual(agg, recomputed, "aggregates equal a recomputation from raw");
}

/** The shipped spec's hourly and daily rollups equal a rollup recomputed from the raw rows. */
export async function assertRollupsEqualRaw(queries: QueryService) {
  for (
    const [table, bucket] of [["WonderwareHistoryHourly", "hour"], [
      "WonderwareHistoryDaily",
      "day",
    ]]
  ) {
    const kept = await queries.query(
      `SELECT TagName, ${bucket} AS b, first_value, last_value, min_value, max_value, count, gaps
       FROM ${table} FINAL ORDER BY TagName, b`,
    );
    const rolled = await queries.query(
      `SELECT TagName, toStartOfInterval(DateTime, INTERVAL 1 ${bucket}) AS b,
         argMinIf(Value, DateTime, Value IS NOT NULL) AS first_value,
         argMaxIf(Value, DateTime, Value IS NOT NULL) AS last_value, min(Value) AS min_value,
         max(Value) AS max_value, count() AS count, countIf(Value IS NULL AND vValue IS NULL) AS gaps
       FROM WonderwareHistory FINAL GROUP BY TagName, b ORDER BY TagName, b`,
    );
    assert.deepEqual(kept, rolled, `${table} equals a rollup recomputed from raw`);
  }
}
