/**
 * The routes that read AVEVA's summary views (docs/summaries.md): wonderware_summary
 * (AnalogSummaryHistory), wonderware_states (StateSummaryHistory, per cycle or over the range),
 * and the time-weighted 1-minute averages of wonderware_timeseries and wonderware_minutes. A
 * small plant (a linear and a stair-step analog tag, a discrete and a string tag, crossing a
 * day edge) is stored through the ClickHouse sink configured by the shipped spec, summaries
 * included, and each route is asked through app.request().
 */
import assert from "node:assert/strict";
import { resolveAssets, summaryMetadata } from "../engine/assets.ts";
import { createHealth } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { QueryService, Sink } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import { parseTicks } from "../engine/types.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { startTestStore, testDatabase } from "../tests/_clickhouse.ts";
import { createApi } from "./app.ts";
import { apiOf } from "./spec.ts";

const TEMPERATURE = "Hamburg.L1.Press01.Temperature"; // linear
const SPEED = "Hamburg.L1.Press01.Speed"; // stair-step, integral divisor 60
const RUNNING = "Hamburg.L1.Pump01.Running"; // discrete
const RECIPE = "Lyon.L2.Oven02.Recipe"; // string
const TAGS: TagInfo[] = [
  { name: TEMPERATURE, type: "analog", unit: "°C", fields: { InterpolationType: 1 } },
  {
    name: SPEED,
    type: "analog",
    unit: "rpm",
    fields: { InterpolationType: 0, IntegralDivisor: 60 },
  },
  { name: RUNNING, type: "discrete" },
  { name: RECIPE, type: "string" },
];

/** 22:30 UTC: three hours of data cross an hour edge and a day edge. */
const T0 = parseTicks("2026-11-01T22:30:00Z");
const T0_MS = Number(T0 / 10_000n);
const HOURS = 3;
const END_MS = T0_MS + HOURS * 3_600_000;
const at = (s: number) => T0_MS + s * 1000;

function point(tag: string, s: number, value: number | null, text: string | null = null): Reading {
  const gap = value === null && text === null;
  return {
    tag,
    time: T0 + BigInt(s) * 10_000_000n,
    value,
    text,
    quality: gap ? "bad" : "good",
    qualityCode: gap ? 1 : 0,
    fields: { QualityDetail: gap ? 249 : 192, OPCQuality: gap ? 0 : 192 },
  };
}

/**
 * Temperature every 10 s with six gap markers at 1.5 h; Speed on change (100, then 200 at
 * 23:00, 400 at 23:15, 0 at 00:30); Running on change with a repeat and a gap marker; Recipe
 * as text.
 */
function readings(): Reading[] {
  const out: Reading[] = [];
  for (let s = 0; s < HOURS * 3_600; s += 10) {
    const gap = s >= 5_400 && s < 5_460;
    out.push(point(TEMPERATURE, s, gap ? null : 50 + Math.sin(s / 600) * 10));
  }
  out.push(
    ...[[0, 100], [1_800, 200], [2_700, 400], [7_200, 0]].map(([s, v]) => point(SPEED, s!, v!)),
  );
  out.push(
    ...[[0, 1], [600, 0], [1_200, 1], [1_500, 1], [3_030, 0], [6_000, null], [6_300, 1]].map((
      [s, v],
    ) => point(RUNNING, s!, v!)),
  );
  out.push(
    ...([[0, "A"], [3_600, "B"], [3_900, "A"], [9_000, "C"]] as const).map(([s, v]) =>
      point(RECIPE, s, null, v)
    ),
  );
  return out;
}

interface Plant {
  get(path: string): Promise<{ status: number; body: Record<string, unknown>[] }>;
  queries: QueryService;
}

/** The plant stored under the shipped spec (its summaries included), and the API over it. */
async function withPlant(fn: (plant: Plant) => Promise<void>) {
  const store = await startTestStore();
  const vars: Record<string, string> = {
    CLICKHOUSE_URL: store.url,
    CLICKHOUSE_DB: testDatabase(),
    WONDERWARE_HOST: "x",
  };
  let sink: Sink | undefined;
  try {
    const loaded = await loadSpec("pipelines/wonderware.yaml", {
      plugins,
      sections,
      env: (n) => vars[n],
    });
    sink = await clickhouse.create(loaded.plugins.sink.options as never, {
      log: createLogger({ level: "error", format: "json" }),
      signal: new AbortController().signal,
      clock: systemClock,
      secrets: new Set(),
      dataDir: "/nonexistent",
    });
    const { spec } = loaded;
    await sink.prepare(storageModelOf(spec), spec.name);
    const assets = resolveAssets(spec.assets!, TAGS, spec.name);
    assets.forEach((a, i) => Object.assign(a, summaryMetadata(spec.summaries!, TAGS[i]!)));
    await sink.setAssets(assets);
    const rs = readings();
    await sink.write({ readings: rs, fields: { wwRetrievalMode: "FULL" } });
    await sink.commit({
      tags: TAGS.map((t) => t.name),
      window: { from: T0 - 1n, to: T0 + BigInt(HOURS * 3_600) * 10_000_000n },
      rows: rs.length,
      readings: rs.length,
    });
    const app = createApi(apiOf(spec)!, {
      queries: sink.queries,
      health: createHealth(),
      log: createLogger({ level: "error", format: "json" }),
    });
    await fn({
      async get(path) {
        const res = await app.request(path);
        return { status: res.status, body: await res.json() };
      },
      queries: sink.queries!,
    });
  } finally {
    await sink?.close();
    await store.stop();
  }
}

const RESOLUTIONS = { "1m": 60_000, "1h": 3_600_000, "1d": 86_400_000 };
const iso = (v: unknown) => typeof v === "string" ? `${v.replace(" ", "T")}Z` : v;
const TIMES = /^(Start|End|First|Last|Min|Max)DateTime$/;

/** A view's rows for `tags` and the cycles of `res` ms that start in [from, to), times as ISO. */
async function viewRows(
  queries: QueryService,
  view: string,
  tags: string[],
  res: number,
  from: number,
  to: number,
) {
  const rows = await queries.query<Record<string, unknown>>(
    `SELECT * FROM ${view} WHERE TagName IN {tags:Array(String)} AND wwResolution = {res:UInt32}
       AND StartDateTime >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
       AND StartDateTime < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
     ORDER BY TagName, StartDateTime, ${view === "StateSummaryHistory" ? "vValue" : "1"}`,
    { tags, res, from, to },
  );
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, TIMES.test(k) ? iso(v) : v]))
  );
}

const list = (...tags: string[]) => encodeURIComponent(tags.join(","));

Deno.test({
  name: "wonderware_summary answers AnalogSummaryHistory's rows for the tags and cycles asked",
  sanitizeResources: false, // the sink's HTTP agent keeps sockets for the store until it closes
  sanitizeOps: false,
  async fn() {
    await withPlant(async ({ get, queries }) => {
      const tags = [TEMPERATURE, SPEED, RUNNING];
      const ranges: [string, number, number][] = [
        ["1m", T0_MS, END_MS],
        ["1h", T0_MS - 3_600_000, END_MS + 3_600_000],
        ["1d", Date.UTC(2026, 9, 1), Date.UTC(2026, 11, 1)],
        // Mid-cycle edges: the cycles that start inside, not those that overlap.
        ["1m", at(90), at(3 * 60 + 30)],
        ["1h", at(45 * 60), at(105 * 60)],
      ];
      for (const [resolution, from, to] of ranges) {
        const r = await get(
          `/consumption/wonderware_summary?tags=${list(...tags)}&start_ts=${from}&end_ts=${to}` +
            `&resolution=${resolution}`,
        );
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const want = await viewRows(
          queries,
          "AnalogSummaryHistory",
          tags,
          RESOLUTIONS[resolution as "1m"],
          from,
          to,
        );
        assert.ok(want.length > 0, resolution);
        assert.deepEqual(r.body, want, `${resolution} ${from}-${to}`);
      }
      // Every minute from the first point to the horizon, per analog tag; none for the discrete one.
      const minutes = await get(
        `/consumption/wonderware_summary?tags=${
          list(...tags)
        }&start_ts=${T0_MS}&end_ts=${END_MS}&resolution=1m`,
      );
      const per = (tag: string) => minutes.body.filter((row) => row.TagName === tag).length;
      assert.deepEqual([per(TEMPERATURE), per(SPEED), per(RUNNING)], [180, 180, 0]);
      assert.deepEqual(
        Object.keys(minutes.body[0]!),
        [
          "TagName",
          "StartDateTime",
          "EndDateTime",
          "wwResolution",
          "OPCQuality",
          "PercentGood",
          "First",
          "FirstDateTime",
          "Last",
          "LastDateTime",
          "Minimum",
          "MinDateTime",
          "Maximum",
          "MaxDateTime",
          "Average",
          "StdDev",
          "Integral",
          "ValueCount",
        ],
        "AVEVA's columns, in its order",
      );
      // Time-weighted by hand: Speed holds 200 for 15 minutes of the 23:00 hour, then 400.
      const hour = await get(
        `/consumption/wonderware_summary?tags=${list(SPEED)}&start_ts=${at(1_800)}&end_ts=${
          at(1_801)
        }`,
      );
      const [h] = hour.body;
      assert.deepEqual(
        [h!.StartDateTime, h!.EndDateTime, h!.wwResolution, h!.Average, h!.Integral, h!.ValueCount],
        ["2026-11-01T23:00:00.0000000Z", "2026-11-02T00:00:00.0000000Z", 3_600_000, 350, 21_000, 2],
        "(200 × 15 + 400 × 45) ÷ 60 min; ∫ ÷ 60, the integral divisor",
      );
      assert.equal(h!.Minimum, 200);
      assert.equal(h!.MaxDateTime, "2026-11-01T23:15:00.0000000Z");
    });
  },
});

Deno.test({
  name:
    "wonderware_states answers StateSummaryHistory's rows per cycle, and over a range the sums of those cycles",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withPlant(async ({ get, queries }) => {
      const tags = [RUNNING, RECIPE, TEMPERATURE];
      const path = (extra: string) =>
        `/consumption/wonderware_states?tags=${list(...tags)}&${extra}`;
      for (const resolution of ["1m", "1h", "1d"] as const) {
        const [from, to] = [at(1_800), at(9_000)];
        const range = `start_ts=${from}&end_ts=${to}&resolution=${resolution}`;
        const cycles = await get(path(`${range}&per=cycle`));
        assert.equal(cycles.status, 200, JSON.stringify(cycles.body));
        const want = await viewRows(
          queries,
          "StateSummaryHistory",
          tags,
          RESOLUTIONS[resolution],
          from,
          to,
        );
        assert.deepEqual(cycles.body, want, resolution);
        // Over the range: per tag and state, the cycles' times and counts added up.
        const summed = await get(path(range));
        assert.equal(summed.status, 200, JSON.stringify(summed.body));
        const res = RESOLUTIONS[resolution];
        const lo = Math.ceil(from / res) * res;
        const hi = Math.max(Math.ceil(to / res) * res, lo);
        const groups = new Map<string, Record<string, unknown>[]>();
        for (const row of want) {
          const key = `${row.TagName}\u0000${row.vValue}`;
          groups.set(key, [...groups.get(key) ?? [], row]);
        }
        const sum = (rows: Record<string, unknown>[], k: string) =>
          rows.reduce((a, row) => a + Number(row[k]), 0);
        const stamp = (ms: number) => new Date(ms).toISOString().replace(".000Z", ".0000000Z");
        const expected = [...groups.values()].map((rows) => {
          const codes = new Set(rows.map((row) => row.OPCQuality));
          const total = sum(rows, "StateTimeTotal");
          return {
            TagName: rows[0]!.TagName,
            StartDateTime: stamp(lo),
            EndDateTime: stamp(hi),
            wwResolution: res,
            Value: rows[0]!.Value,
            vValue: rows[0]!.vValue,
            OPCQuality: codes.size === 1 ? rows[0]!.OPCQuality : 64,
            StateCount: sum(rows, "StateCount"),
            ContainedStateCount: sum(rows, "ContainedStateCount"),
            StateTimeMin: null,
            StateTimeMax: null,
            StateTimeAvg: null,
            StateTimeTotal: total,
            StateTimeMinContained: null,
            StateTimeMaxContained: null,
            StateTimeAvgContained: null,
            StateTimeTotalContained: sum(rows, "StateTimeTotalContained"),
            StateTimePercent: total / (hi - lo) * 100,
          };
        });
        const order = (r: Record<string, unknown>) => `${r.TagName}\u0000${r.vValue}`;
        expected.sort((a, b) => order(a) < order(b) ? -1 : 1);
        assert.equal(summed.body.length, expected.length, resolution);
        for (const [i, row] of summed.body.entries()) {
          const { StateTimePercent: p, ...rest } = row;
          const { StateTimePercent: q, ...wanted } = expected[i]!;
          assert.deepEqual(rest, wanted, resolution);
          assert.ok(Math.abs(Number(p) - q) < 1e-9, `${resolution}: ${p} vs ${q}`);
        }
      }
      // How long the pump ran from 23:00 to 01:00, by hand: 1,230 s, then 2,700 s after the gap.
      const pump = await get(
        `/consumption/wonderware_states?tags=${list(RUNNING)}&start_ts=${at(1_800)}&end_ts=${
          at(9_000)
        }&resolution=1h`,
      );
      assert.deepEqual(
        pump.body.map((r) => [r.vValue, r.Value, r.StateTimeTotal, r.StateCount]),
        [["0", 0, 2_970_000, 2], ["1", 1, 3_930_000, 2]],
        "the stop from 23:20:30 to the gap at 00:10 counts in both hours it overlaps",
      );
      assert.ok(Math.abs(Number(pump.body[1]!.StateTimePercent) - 3_930 / 72) < 1e-9);
    });
  },
});

Deno.test({
  name:
    "1-minute averages are time-weighted: the series route's 1min, the minutes route, discrete tags from their states",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withPlant(async ({ get, queries }) => {
      const range = `start_ts=${T0_MS}&end_ts=${END_MS}`;
      const series = await get(
        `/consumption/wonderware_timeseries?tags=${
          list(TEMPERATURE, SPEED, RUNNING, RECIPE)
        }&${range}&aggregation=1min&max_data_points=100000`,
      );
      assert.equal(series.status, 200, JSON.stringify(series.body));
      const of = (tag: string) =>
        (series.body.find((s) => s.target === tag)?.datapoints ?? []) as [number | null, number][];
      const averages = await queries.query<{ tag: string; t: number; v: number }>(
        `SELECT TagName AS tag, toUnixTimestamp64Milli(StartDateTime) AS t, Average AS v
         FROM AnalogSummaryHistory WHERE wwResolution = 60000 AND Average IS NOT NULL
         ORDER BY tag, t`,
      );
      for (const tag of [TEMPERATURE, SPEED]) {
        const want = averages.filter((a) => a.tag === tag).map((a) => [a.v, Number(a.t)]);
        assert.deepEqual(of(tag), want, tag);
      }
      // Speed holds 100 from 22:30 to 23:00: every minute of it, not only the one with a point.
      assert.deepEqual(of(SPEED).slice(0, 30).map((p) => p[0]), Array(30).fill(100));
      // The discrete tag: the time-weighted mean of its states; text has no average.
      const running = of(RUNNING);
      assert.equal(running.length, 175, "180 minutes but the 5 of the gap");
      assert.deepEqual(running[0], [1, T0_MS]);
      assert.deepEqual(running.find((p) => p[1] === at(3_000)), [0.5, at(3_000)]);
      assert.equal(of(RECIPE).length, 0);
      // fill_gaps: a null point where nothing is covered (the gap markers' minute), none where a
      // value is held.
      const filled = await get(
        `/consumption/wonderware_timeseries?tags=${
          list(TEMPERATURE, SPEED)
        }&${range}&aggregation=1min&max_data_points=100000&fill_gaps=true`,
      );
      const nulls = (tag: string) =>
        (filled.body.find((s) => s.target === tag)!.datapoints as [unknown, number][])
          .filter((p) => p[0] === null).map((p) => p[1]);
      assert.deepEqual(nulls(TEMPERATURE), [at(5_400)]);
      assert.deepEqual(nulls(SPEED), []);

      // The status page's 1-minute view: the same averages, the band of the minute's points.
      const minutes = await get(
        `/consumption/wonderware_minutes?tag=${encodeURIComponent(TEMPERATURE)}&${range}`,
      );
      assert.equal(minutes.status, 200, JSON.stringify(minutes.body));
      const rows = await queries.query<Record<string, unknown>>(
        `SELECT toUnixTimestamp64Milli(StartDateTime) AS t, Average AS avg, Minimum AS min,
                Maximum AS max, ValueCount AS count
         FROM AnalogSummaryHistory WHERE TagName = {tag:String} AND wwResolution = 60000
         ORDER BY t`,
        { tag: TEMPERATURE },
      );
      const answered: Record<string, unknown>[] = minutes.body;
      assert.deepEqual(answered, rows.map((r) => ({ ...r, t: Number(r.t) })));
      const gapMinute = minutes.body.find((r) => r.t === at(5_400))!;
      assert.deepEqual([gapMinute.avg, gapMinute.count], [null, 0], "an outage: nothing covered");
      const pump = await get(
        `/consumption/wonderware_minutes?tag=${encodeURIComponent(RUNNING)}&${range}`,
      );
      assert.deepEqual(pump.body.find((r) => r.t === at(3_000)), {
        t: at(3_000),
        avg: 0.5,
        min: 0,
        max: 1,
        count: null,
      });
    });
  },
});

Deno.test("the summary routes answer bad parameters with 400, naming each", async () => {
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => ({ WONDERWARE_HOST: "x", CLICKHOUSE_URL: "http://127.0.0.1:1" })[n],
  });
  // No store: parameters are checked before any query.
  const app = createApi(apiOf(loaded.spec)!, {
    health: createHealth(),
    log: createLogger({ level: "error", format: "json" }),
  });
  const issues = async (path: string) => {
    const res = await app.request(path);
    assert.equal(res.status, 400, path);
    const body = await res.json();
    assert.equal(body.error, "invalid parameters");
    return body.issues;
  };
  assert.deepEqual(await issues("/consumption/wonderware_summary"), [
    { path: "tags", message: "is required" },
    { path: "start_ts", message: "is required" },
    { path: "end_ts", message: "is required" },
  ]);
  const many = Array.from({ length: 101 }, (_, i) => `T${i}`).join(",");
  assert.deepEqual(
    await issues(
      `/consumption/wonderware_summary?tags=${many}&start_ts=now-1h&end_ts=1&resolution=5m`,
    ),
    [
      { path: "tags", message: "takes at most 100 items" },
      {
        path: "start_ts",
        message: 'expected milliseconds since 1970 or an ISO 8601 time, got "now-1h"',
      },
      { path: "resolution", message: "expected one of 1m, 1h, 1d" },
    ],
  );
  assert.deepEqual(
    await issues(
      "/consumption/wonderware_states?tags=a&start_ts=1&end_ts=99999999999999&per=day&resolution=1h&resolution=1d",
    ),
    [
      {
        path: "end_ts",
        message:
          "must be between 1900-01-01T00:00:00Z and 2299-12-31T23:59:59.999Z (what ClickHouse's DateTime64 holds)",
      },
      { path: "resolution", message: "expected one value, got 2" },
      { path: "per", message: "expected one of range, cycle" },
    ],
  );
});

Deno.test("OpenAPI describes the summary routes: their rules, a link to them, AVEVA's columns", async () => {
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => ({ WONDERWARE_HOST: "x", CLICKHOUSE_URL: "http://127.0.0.1:1" })[n],
  });
  const app = createApi(apiOf(loaded.spec)!, {
    health: createHealth(),
    log: createLogger({ level: "error", format: "json" }),
  });
  const doc = await (await app.request("/openapi.json")).json();
  for (
    const [path, words] of [
      ["/consumption/wonderware_summary", /time-weighted/i],
      ["/consumption/wonderware_states", /occurrence/i],
    ] as const
  ) {
    const op = doc.paths[path].get;
    assert.match(op.description, words, path);
    assert.match(op.description, /docs\/summaries\.md/, path);
    assert.deepEqual(
      op.parameters.map((p: { name: string }) => p.name),
      path.endsWith("summary")
        ? ["tags", "start_ts", "end_ts", "resolution"]
        : ["tags", "start_ts", "end_ts", "resolution", "per"],
    );
  }
  const summary = doc.paths["/consumption/wonderware_summary"].get;
  const row = summary.responses["200"].content["application/json"].schema.items;
  assert.deepEqual(row.properties.StartDateTime, {
    type: "string",
    format: "date-time",
    description: "The cycle's start",
  });
  assert.deepEqual(row.properties.Average.type, ["number", "null"]);
  const states = doc.paths["/consumption/wonderware_states"].get;
  const per = states.parameters.find((p: { name: string }) => p.name === "per");
  assert.deepEqual(per.schema, { type: "string", enum: ["range", "cycle"], default: "range" });
});
