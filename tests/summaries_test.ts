/**
 * AVEVA's summary views as the store keeps them, against the plain reference in
 * _summary_reference.ts: thousands of generated series (_summary_series.ts) go through the
 * ClickHouse sink configured by the shipped spec, backfilled in windows committed out of order,
 * then late points (store-and-forward, revisions) arrive in units of their own. Every stored
 * row of every resolution (1 min, 1 h, 1 d, each computed by the reference from the raw points)
 * must equal the reference's: a single cycle not recomputed fails the test.
 */
import assert from "node:assert/strict";
import { resolveAssets, summaryMetadata } from "../engine/assets.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import type { Spec } from "../engine/spec/schema.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { sections } from "../cli/_load.ts";
import { plugins } from "../plugins/registry.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import type { TestStore } from "./_clickhouse.ts";
import { guarded } from "./_plugins.ts";
import { analogRows, stateKey, stateRows } from "./_summary_reference.ts";
import type { RefAnalogRow, RefPoint, RefStateRow, Rule } from "./_summary_reference.ts";
import { generateSeries } from "./_summary_series.ts";
import type { GeneratedTag } from "./_summary_series.ts";

// Two hours before yesterday's midnight (UTC), so the range crosses a day edge and the raw
// table's 90-day TTL keeps every row; the horizon lies off every cycle edge.
const DAY = 864_000_000_000n;
const FROM = (BigInt(Date.now()) * 10_000n / DAY - 1n) * DAY - 72_000_000_000n;
const HORIZON = FROM + 190_621_234_567n;
const CYCLES = [600_000_000n, 36_000_000_000n, 864_000_000_000n];
/** Tags per unit: a whole series set at once (the summaries plan in a request body). */
const CHUNK = 10_000;

/** A shipped pipeline and how its source describes the generated series. */
interface Pipeline {
  file: string;
  /** The tag fields discovery would give. */
  fields(s: GeneratedTag): Record<string, unknown>;
  /** What the source stores of a point (Ignition: milliseconds, a quality class). */
  stored(p: RefPoint): RefPoint;
}

const WONDERWARE: Pipeline = {
  file: "pipelines/wonderware.yaml",
  fields: (s) => ({ InterpolationType: s.linear ? 254 : 0, IntegralDivisor: s.divisor }),
  stored: (p) => p,
};

/** Ignition keeps milliseconds and says good, uncertain or bad; no integral divisor. */
const IGNITION: Pipeline = {
  file: "pipelines/ignition.yaml",
  fields: (s) => ({ interpolation: s.linear ? "linear" : "stairstep" }),
  stored: (p) => ({
    ...p,
    t: p.t / 10_000n * 10_000n,
    opc: p.opc >= 192 && p.opc <= 255 ? 192 : p.opc >= 64 && p.opc < 192 ? 64 : 0,
  }),
};

/** The series as `pipeline`'s source stores them (points at one millisecond kept once). */
function storedBy(pipeline: Pipeline, series: GeneratedTag[]): GeneratedTag[] {
  const once = (points: RefPoint[]) => {
    const byTime = new Map<bigint, RefPoint>();
    for (const p of points.map(pipeline.stored)) byTime.set(p.t, p);
    return [...byTime.values()];
  };
  return series.map((s) => {
    const initial = once(s.initial);
    const late = once(s.late);
    const merged = new Map(initial.map((p) => [p.t, p]));
    for (const p of late) merged.set(p.t, p);
    return {
      ...s,
      divisor: pipeline === IGNITION ? 1 : s.divisor,
      initial,
      late,
      points: [...merged.values()].sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0)),
    };
  });
}

async function openSink(store: TestStore, rule: Rule, pipeline = WONDERWARE) {
  const env: Record<string, string> = {
    CLICKHOUSE_URL: store.url,
    CLICKHOUSE_DB: testDatabase(),
    WONDERWARE_HOST: "unused",
    IGNITION_DATABASE_URL: "postgres://unused@127.0.0.1:1/unused",
  };
  const loaded = await loadSpec(pipeline.file, {
    plugins,
    sections,
    env: (n) => env[n],
  });
  loaded.spec.summaries!.quality_rule = rule;
  const ctx = {
    log: createLogger({ level: "error", format: "json" }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set<string>(),
    dataDir: "/nonexistent",
  };
  const sink = guarded(
    await clickhouse.create(loaded.plugins.sink.options as never, ctx),
    loaded,
    ctx,
  );
  // The spec's summaries alone: the 1-minute aggregates take their tags as URL parameters,
  // which a unit of thousands of tags outgrows (the summaries plan in a request body).
  await sink.prepare({ ...storageModelOf(loaded.spec), aggregations: {} }, loaded.spec.name);
  return { sink, spec: loaded.spec, database: env.CLICKHOUSE_DB! };
}

/** The tags as discovery would list them (Wonderware: AVEVA's InterpolationType, IntegralDivisor). */
async function setTags(sink: Sink, spec: Spec, series: GeneratedTag[], pipeline = WONDERWARE) {
  const infos: TagInfo[] = series.map((s) => ({
    name: s.name,
    type: s.type,
    fields: pipeline.fields(s),
  }));
  const rows = resolveAssets(spec.assets!, infos, spec.name);
  rows.forEach((r, i) => Object.assign(r, summaryMetadata(spec.summaries!, infos[i]!)));
  await sink.setAssets(rows);
}

function reading(tag: string, p: RefPoint): Reading {
  const gap = p.value === null && p.text === null;
  return {
    tag,
    time: p.t,
    value: p.value,
    text: p.text,
    quality: gap || p.opc < 64 ? "bad" : p.opc < 192 ? "uncertain" : "good",
    qualityCode: gap || p.opc < 64 ? 1 : 0,
    fields: { QualityDetail: gap ? 249 : 192, OPCQuality: p.opc },
  };
}

/** Writes the points of `series` in (from, to], then commits that unit per chunk of tags. */
async function unit(
  sink: Sink,
  series: GeneratedTag[],
  points: (s: GeneratedTag) => RefPoint[],
  from: bigint,
  to: bigint,
  fresh: boolean,
) {
  for (let i = 0; i < series.length; i += CHUNK) {
    const chunk = series.slice(i, i + CHUNK);
    const readings = chunk.flatMap((s) =>
      points(s).filter((p) => p.t > from && p.t <= to).map((p) => reading(s.name, p))
    );
    for (let k = 0; k < readings.length; k += 50_000) {
      await sink.write({ readings: readings.slice(k, k + 50_000) }, { fresh });
    }
    await sink.commit({
      tags: chunk.map((s) => s.name),
      window: { from, to },
      rows: readings.length,
      readings: readings.length,
    });
  }
}

/** Rows of a query as arrays (JSONCompactEachRow). */
async function select(store: TestStore, sql: string): Promise<unknown[][]> {
  const answer = await store.sql(`${sql} FORMAT JSONCompactEachRow`);
  const text = await answer.text();
  if (!answer.ok) throw new Error(text);
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

const ticksOf = (c: string) => `toString(intDiv(toUnixTimestamp64Nano(${c}), 100))`;
const nTicksOf = (c: string) => `if(${c} IS NULL, NULL, ${ticksOf(c)})`;

function close(a: unknown, b: number | null, what: string) {
  if (b === null || a === null) {
    assert.equal(a, b, what);
    return;
  }
  const x = Number(a);
  assert.ok(
    Math.abs(x - b) <= 1e-7 * Math.max(1, Math.abs(x), Math.abs(b)),
    `${what}: stored ${x}, reference ${b}`,
  );
}

const t = (v: bigint | null) => (v === null ? null : String(v));

function checkAnalog(stored: unknown[][], ref: RefAnalogRow[], res: string) {
  const byKey = new Map(ref.map((r) => [`${r.tag}|${r.start}`, r]));
  for (const row of stored) {
    const [
      tag,
      start,
      end,
      opc,
      pg,
      first,
      firstT,
      last,
      lastT,
      min,
      minT,
      max,
      maxT,
      avg,
      sd,
      integral,
      n,
    ] = row;
    const key = `${tag}|${start}`;
    const r = byKey.get(key);
    assert.ok(r, `stored ${res} row ${key} is not in the reference`);
    byKey.delete(key);
    const at = `${res} ${key}`;
    assert.equal(end, String(r.end), `${at} EndDateTime`);
    assert.equal(opc, r.opcQuality, `${at} OPCQuality`);
    close(pg, r.percentGood, `${at} PercentGood`);
    close(first, r.first, `${at} First`);
    assert.equal(firstT, t(r.firstTime), `${at} FirstDateTime`);
    close(last, r.last, `${at} Last`);
    assert.equal(lastT, t(r.lastTime), `${at} LastDateTime`);
    close(min, r.minimum, `${at} Minimum`);
    assert.equal(minT, t(r.minTime), `${at} MinDateTime`);
    close(max, r.maximum, `${at} Maximum`);
    assert.equal(maxT, t(r.maxTime), `${at} MaxDateTime`);
    close(avg, r.average, `${at} Average`);
    close(sd, r.stdDev, `${at} StdDev`);
    close(integral, r.integral, `${at} Integral`);
    assert.equal(n, r.valueCount, `${at} ValueCount`);
  }
  assert.deepEqual([...byKey.keys()].slice(0, 5), [], `${res} rows missing from the store`);
}

function checkStates(stored: unknown[][], ref: RefStateRow[], res: string) {
  const keyOf = (tag: unknown, start: unknown, value: unknown, text: unknown) =>
    `${tag}|${start}|${value !== null ? `n${value}` : `s${text}`}`;
  const byKey = new Map(
    ref.map((r) => [keyOf(r.tag, String(r.start), r.value, r.vValue), r]),
  );
  for (const row of stored) {
    const [
      tag,
      start,
      end,
      value,
      text,
      opc,
      cnt,
      ccnt,
      tmin,
      tmax,
      tavg,
      ttot,
      cmin,
      cmax,
      cavg,
      ctot,
      pct,
    ] = row;
    const key = keyOf(tag, start, value, text);
    const r = byKey.get(key);
    assert.ok(r, `stored ${res} state row ${key} is not in the reference`);
    byKey.delete(key);
    const at = `${res} ${key}`;
    assert.equal(end, String(r.end), `${at} EndDateTime`);
    assert.equal(text, r.vValue, `${at} vValue`);
    assert.equal(opc, r.opcQuality, `${at} OPCQuality`);
    assert.equal(cnt, r.stateCount, `${at} StateCount`);
    assert.equal(ccnt, r.containedStateCount, `${at} ContainedStateCount`);
    close(tmin, r.timeMin, `${at} StateTimeMin`);
    close(tmax, r.timeMax, `${at} StateTimeMax`);
    close(tavg, r.timeAvg, `${at} StateTimeAvg`);
    close(ttot, r.timeTotal, `${at} StateTimeTotal`);
    close(cmin, r.timeMinContained, `${at} StateTimeMinContained`);
    close(cmax, r.timeMaxContained, `${at} StateTimeMaxContained`);
    close(cavg, r.timeAvgContained, `${at} StateTimeAvgContained`);
    close(ctot, r.timeTotalContained, `${at} StateTimeTotalContained`);
    close(pct, r.timePercent, `${at} StateTimePercent`);
  }
  assert.deepEqual([...byKey.keys()].slice(0, 5), [], `${res} state rows missing from the store`);
}

/** Every stored row of every resolution against the reference, a chunk of tags at a time. */
async function compare(store: TestStore, database: string, series: GeneratedTag[], rule: Rule) {
  for (let i = 0; i < series.length; i += 1000) {
    const chunk = series.slice(i, i + 1000);
    const range = `TagName >= '${chunk[0]!.name}' AND TagName <= '${chunk.at(-1)!.name}'`;
    for (const [c, cycle] of CYCLES.entries()) {
      const ms = Number(cycle / 10_000n);
      const where = `WHERE ${range} AND wwResolution = ${ms} ORDER BY TagName, StartDateTime`;
      const analog = await select(
        store,
        `SELECT TagName, ${ticksOf("StartDateTime")}, ${ticksOf("EndDateTime")}, OPCQuality, ` +
          `PercentGood, First, ${nTicksOf("FirstDateTime")}, Last, ${nTicksOf("LastDateTime")}, ` +
          `Minimum, ${nTicksOf("MinDateTime")}, Maximum, ${nTicksOf("MaxDateTime")}, Average, ` +
          `StdDev, Integral, ValueCount FROM ${database}.AnalogSummaryHistory ${where}`,
      );
      const res = ["1m", "1h", "1d"][c]!;
      checkAnalog(
        analog,
        chunk.filter((s) => s.kind === "analog").flatMap((s) => analogRows(s, cycle, rule)),
        `${rule} ${res}`,
      );
      const states = await select(
        store,
        `SELECT TagName, ${ticksOf("StartDateTime")}, ${ticksOf("EndDateTime")}, Value, vValue, ` +
          `OPCQuality, StateCount, ContainedStateCount, StateTimeMin, StateTimeMax, StateTimeAvg, ` +
          `StateTimeTotal, StateTimeMinContained, StateTimeMaxContained, StateTimeAvgContained, ` +
          `StateTimeTotalContained, StateTimePercent FROM ${database}.StateSummaryHistory ${where}`,
      );
      checkStates(
        states,
        chunk.filter((s) => s.kind === "state").flatMap((s) => stateRows(s, cycle, rule)),
        `${rule} ${res}`,
      );
    }
  }
}

/** The first backfill in four windows, committed out of order; then late points in units. */
async function backfillThenLate(sink: Sink, series: GeneratedTag[]) {
  const edges = [
    FROM - 1n,
    FROM + 36_000_000_000n,
    FROM + 72_000_000_000n,
    FROM + 130_000_000_000n,
    HORIZON,
  ];
  for (const w of [2, 0, 3, 1]) {
    await unit(sink, series, (s) => s.initial, edges[w]!, edges[w + 1]!, true);
  }
  // Late points arrive per half hour of the range, each half hour its own unit.
  const late = series.filter((s) => s.late.length > 0);
  for (let from = FROM - 1n; from < HORIZON; from += 18_000_000_000n) {
    const to = from + 18_000_000_000n < HORIZON ? from + 18_000_000_000n : HORIZON;
    const touched = late.filter((s) => s.late.some((p) => p.t > from && p.t <= to));
    if (touched.length > 0) await unit(sink, touched, (s) => s.late, from, to, false);
  }
}

for (const rule of ["extended", "good"] as const) {
  Deno.test(`summaries equal the reference under the ${rule} rule, late points included`, async () => {
    const store = await startTestStore();
    const { sink, spec, database } = await openSink(store, rule);
    try {
      const series = generateSeries(rule === "extended" ? 10_000 : 2_000, FROM, HORIZON);
      await setTags(sink, spec, series);
      await backfillThenLate(sink, series);
      await compare(store, database, series, rule);
    } finally {
      await sink.close();
      await store.stop();
    }
  });
}

Deno.test("summaries of the Ignition pipeline (milliseconds, quality classes) equal the reference", async () => {
  const store = await startTestStore();
  const { sink, spec, database } = await openSink(store, "extended", IGNITION);
  try {
    const series = storedBy(IGNITION, generateSeries(1_000, FROM, HORIZON, 30));
    await setTags(sink, spec, series, IGNITION);
    await backfillThenLate(sink, series);
    await compare(store, database, series, "extended");
  } finally {
    await sink.close();
    await store.stop();
  }
});

Deno.test("reference: a state key is its number, or its text", () => {
  assert.equal(stateKey({ t: 0n, value: 1, text: "1", opc: 192 }), "n1");
  assert.equal(stateKey({ t: 0n, value: null, text: "Run", opc: 192 }), "sRun");
});
