/**
 * The REST API with app.request() (no port) against the embedded ClickHouse holding known
 * readings written through the sink, configured by the shipped spec.
 */
import assert from "node:assert/strict";
import { resolveAssets } from "../engine/assets.ts";
import { createLogger } from "../engine/log.ts";
import { createHealth, noteError } from "../engine/health.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import { parseTicks } from "../engine/types.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import { apiOf } from "./spec.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { assertRollupsEqualRaw } from "../tests/_verify.ts";
import { startTestStore, testDatabase } from "../tests/_clickhouse.ts";
import { createApi } from "./app.ts";

const TAGS: TagInfo[] = [
  { name: "Hamburg.L1.Press01.Temperature", type: "analog", unit: "°C" },
  { name: "Hamburg.L1.Press01.Speed", type: "analog", unit: "rpm" },
  { name: "Lyon.L2.Oven02.Recipe", type: "string" },
];
const T0 = parseTicks("2026-11-01T00:00:00Z");
const START_MS = Number(T0 / 10_000n);
const HOURS = 3;
const END_MS = START_MS + HOURS * 3_600_000;

const GAP_S = 7_200;

/** One reading per tag every 10 s for 3 hours, a 20-minute hole in Speed, six gap markers in Temperature. */
function readings(): Reading[] {
  const out: Reading[] = [];
  for (let s = 0; s < HOURS * 3_600; s += 10) {
    const time = T0 + BigInt(s) * 10_000_000n;
    // An outage of the Temperature tag: six gap markers (no value, no text, bad quality).
    const gap = s >= GAP_S && s < GAP_S + 60;
    out.push({
      tag: TAGS[0]!.name,
      time,
      value: gap ? null : 50 + Math.sin(s / 600) * 10,
      text: null,
      quality: gap ? "bad" : "good",
      qualityCode: gap ? 1 : 0,
      fields: { QualityDetail: gap ? 249 : 192, OPCQuality: gap ? 0 : 192 },
    });
    if (s < 3_600 || s >= 4_800) {
      out.push({
        tag: TAGS[1]!.name,
        time,
        value: s % 600,
        text: null,
        quality: "good",
        qualityCode: 0,
        fields: { QualityDetail: 192, OPCQuality: 192 },
      });
    }
    if (s % 600 === 0) {
      out.push({
        tag: TAGS[2]!.name,
        time,
        value: null,
        text: `Recipe ${s / 600}`,
        quality: "good",
        qualityCode: 0,
        fields: { QualityDetail: 192, OPCQuality: 192 },
      });
    }
  }
  return out;
}

async function setup(url: string, env: Record<string, string> = {}) {
  const vars: Record<string, string> = {
    CLICKHOUSE_URL: url,
    CLICKHOUSE_DB: testDatabase(),
    WONDERWARE_HOST: "x",
    ...env,
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => vars[n],
  });
  const sink: Sink = await clickhouse.create(loaded.plugins.sink.options as never, {
    log: createLogger({ level: "error", format: "json" }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
  const { assets } = loaded.spec;
  // The whole model, summaries included: the 1-minute averages come from them.
  await sink.prepare(storageModelOf(loaded.spec), loaded.spec.name);
  await sink.setAssets(resolveAssets(assets!, TAGS, "wonderware"));
  const rs = readings();
  for (let i = 0; i < rs.length; i += 1_000) {
    await sink.write({ readings: rs.slice(i, i + 1_000), fields: { wwRetrievalMode: "FULL" } });
  }
  const health = createHealth();
  await sink.commit({
    tags: TAGS.map((t) => t.name),
    window: { from: T0 - 1n, to: rs.at(-1)!.time },
    rows: rs.length,
    readings: rs.length,
  });
  const app = createApi(apiOf(loaded.spec)!, {
    queries: sink.queries,
    health,
    log: createLogger({ level: "error", format: "json" }),
  });
  return { app, sink, spec: loaded.spec, count: rs.length, health };
}

type Json = Record<string, unknown>;

const HALF_HOUR = `start_ts=${START_MS}&end_ts=${START_MS + 1_800_000}`;

/** What sensor_data must answer for `filter` over HALF_HOUR: a plain JOIN with MachineData. */
function joinedReadings(sink: Sink, filter: string) {
  const f = new URLSearchParams(filter);
  return sink.queries!.query<Record<string, unknown>>(
    `SELECT concat(replaceOne(toString(h.DateTime), ' ', 'T'), 'Z') AS time, m.enterprise AS enterprise,
            m.site AS site, m.line AS line, m.machine AS machine, m.machine_type AS machine_type,
            m.sensor_type AS sensor_type, h.TagName AS tag, h.Value AS value, h.vValue AS text,
            h.Quality AS quality, m.unit AS unit
     FROM WonderwareHistory AS h FINAL INNER JOIN (SELECT * FROM MachineData FINAL) AS m ON m.tag = h.TagName
     WHERE m.machine != '' AND h.DateTime BETWEEN fromUnixTimestamp64Milli({from:Int64}, 'UTC')
           AND fromUnixTimestamp64Milli({to:Int64}, 'UTC')
       AND ({machine:Nullable(String)} IS NULL OR m.machine = {machine:Nullable(String)})
       AND ({type:Nullable(String)} IS NULL OR m.machine_type = {type:Nullable(String)})
       AND ({sensor:Nullable(String)} IS NULL OR m.sensor_type = {sensor:Nullable(String)})
     ORDER BY h.DateTime, tag`,
    {
      from: START_MS,
      to: START_MS + 1_800_000,
      machine: f.get("machine"),
      type: f.get("machine_type"),
      sensor: f.get("sensor_type"),
    },
  );
}

Deno.test({
  name: "REST routes generated from the spec",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    const { app, sink, spec, count, health } = await setup(store.url);
    const get = async (path: string, init?: RequestInit) => {
      const res = await app.request(path, init);
      return { status: res.status, headers: res.headers, body: await res.json() as Json & Json[] };
    };
    const ts = (extra: string) =>
      `/consumption/wonderware_timeseries?tags=${
        encodeURIComponent(TAGS.map((t) => t.name).join(","))
      }&start_ts=${START_MS}&end_ts=${END_MS}${extra}`;
    try {
      await t.step("wonderware_status: totals and the engine's health", async () => {
        const r = await get("/consumption/wonderware_status");
        assert.equal(r.status, 200);
        assert.equal(r.body.tags, 3);
        assert.equal(r.body.points, count);
        assert.equal(r.body.oldest, "2026-11-01T00:00:00.0000000Z", "ISO 8601 with its zone");
        assert.equal(r.body.span_seconds, HOURS * 3_600 - 10);
        assert.ok(r.body.health && typeof r.body.health === "object");
        assert.equal(r.headers.get("Cache-Control"), "no-store");
        const one = await get(
          `/consumption/wonderware_status?tag_name=${encodeURIComponent(TAGS[2]!.name)}`,
        );
        assert.equal(one.body.points, 18);
        // A tag with nothing stored: no times, not 1970.
        const none = await get("/consumption/wonderware_status?tag_name=nothing.stored");
        assert.deepEqual(
          [none.body.points, none.body.oldest, none.body.newest, none.body.span_seconds],
          [0, null, null, null],
        );
      });

      await t.step(
        "wonderware_timeseries raw: Grafana's series shape, at most max_data_points per tag over the whole range",
        async () => {
          const r = await get(ts("&aggregation=raw&max_data_points=50"));
          assert.equal(r.status, 200);
          assert.deepEqual(
            r.body.map((s) => s.target),
            [TAGS[0]!.name, TAGS[1]!.name, TAGS[2]!.name].sort(),
          );
          for (
            const series of r.body as unknown as {
              target: string;
              datapoints: [unknown, number][];
            }[]
          ) {
            assert.ok(
              series.datapoints.length <= 50 && series.datapoints.length >= 18,
              `${series.target}: ${series.datapoints.length}`,
            );
            const times = series.datapoints.map((p) => p[1]);
            assert.deepEqual(times, [...times].sort((a, b) => a - b), "in time order");
            assert.ok(times[0]! - START_MS < 600_000, "starts at the start of the range");
            assert.ok(
              END_MS - times.at(-1)! <= 600_000,
              "reaches the end of the range: downsampled, not truncated",
            );
          }
          const recipe =
            (r.body as unknown as { target: string; datapoints: [unknown, number][] }[]).find((s) =>
              s.target === TAGS[2]!.name
            )!;
          assert.equal(recipe.datapoints[0]![0], "Recipe 0", "string tags come back as text");
          const full = await get(ts("&max_data_points=100000"));
          const temp = (full.body as unknown as { target: string; datapoints: unknown[] }[]).find((
            s,
          ) => s.target === TAGS[0]!.name)!;
          assert.equal(temp.datapoints.length, HOURS * 360, "every point when the cap allows");
        },
      );

      await t.step(
        "wonderware_timeseries raw: gap markers are null points; text series get exactly min(count, max) points",
        async () => {
          type Series = { target: string; datapoints: [unknown, number][] };
          const of = (body: unknown, tag: string) =>
            (body as Series[]).find((x) => x.target === tag)!.datapoints;
          const temp = of((await get(ts("&max_data_points=100000"))).body, TAGS[0]!.name);
          const gaps = temp.filter((p) => p[0] === null).map((p) => p[1]);
          assert.deepEqual(
            gaps,
            Array.from({ length: 6 }, (_, i) => START_MS + (GAP_S + i * 10) * 1000),
            "every gap marker, where it is",
          );
          const small = of(
            (await get(ts("&aggregation=raw&max_data_points=50"))).body,
            TAGS[0]!.name,
          );
          assert.equal(small.filter((p) => p[0] === null).length, 6, "kept when downsampled too");
          assert.ok(small.length <= 50);
          for (const max of [18, 17, 5, 2]) {
            const recipe = of(
              (await get(ts(`&aggregation=raw&max_data_points=${max}`))).body,
              TAGS[2]!.name,
            );
            assert.equal(recipe.length, Math.min(18, max), `max_data_points=${max}`);
            assert.ok(recipe.every((p) => typeof p[0] === "string"));
          }
        },
      );

      await t.step(
        "wonderware_timeseries auto: far more points than max_data_points → min/max per bucket from the 1-minute and hourly levels; strings stay raw",
        async () => {
          type Series = { target: string; datapoints: [number | string | null, number][] };
          const of = (body: unknown, tag: string) =>
            (body as Series[]).find((x) => x.target === tag)!.datapoints;
          const raw = readings().filter((r) => r.tag === TAGS[0]!.name && r.value !== null)
            .map((r) => r.value!);
          const [lo, hi] = [Math.min(...raw), Math.max(...raw)];
          // 3 h in 10 buckets of 18 min: the 1-minute level; in one bucket: the hourly level.
          for (const max of [30, 3]) {
            const points = of((await get(ts(`&max_data_points=${max}`))).body, TAGS[0]!.name);
            assert.ok(points.length <= max && points.length >= 2, `${max}: ${points.length}`);
            const times = points.map((p) => p[1]);
            assert.deepEqual(times, [...times].sort((a, b) => a - b), "in time order");
            assert.ok(times.every((t) => t >= START_MS && t <= END_MS), "inside the range");
            const values = points.map((p) => p[0]).filter((v) => v !== null) as number[];
            assert.ok(values.includes(lo) && values.includes(hi), "the extremes survive");
            assert.ok(values.every((v) => v >= lo && v <= hi));
            assert.ok(
              points.some((p) => p[0] === null && p[1] === START_MS + GAP_S * 1000),
              "a null point at the gap marker's minute",
            );
            const recipe = of((await get(ts(`&max_data_points=${max}`))).body, TAGS[2]!.name);
            assert.equal(recipe.length, Math.min(18, max), "strings: min(count, max) raw texts");
          }
          // Fine enough buckets read raw: every point when the cap allows.
          const all = of((await get(ts("&max_data_points=100000"))).body, TAGS[0]!.name);
          assert.equal(all.length, HOURS * 360);
          await assertRollupsEqualRaw(sink.queries!);
        },
      );

      await t.step(
        "timestamps outside what ClickHouse holds are 400; a start in 1900 still finds the data",
        async () => {
          const huge = await get(
            `/consumption/sensor_data?start_ts=0&end_ts=999999999999999`,
          );
          assert.equal(huge.status, 400);
          assert.match(JSON.stringify(huge.body), /end_ts.*must be between 1900-01-01/);
          const early = await get(
            ts("&aggregation=1min").replace(
              `start_ts=${START_MS}`,
              `start_ts=${Date.UTC(1850, 0, 1)}`,
            ),
          );
          assert.equal(early.status, 400);
          const old = await get(
            ts("&aggregation=1min&max_data_points=100000").replace(
              `start_ts=${START_MS}`,
              `start_ts=${Date.UTC(1900, 0, 1)}`,
            ),
          );
          assert.equal(old.status, 200);
          const speed = (old.body as unknown as { target: string; datapoints: unknown[] }[]).find((
            x,
          ) => x.target === TAGS[1]!.name)!;
          assert.ok(speed.datapoints.length > 100, "1-minute data found from a start in 1900");
        },
      );

      await t.step(
        "wonderware_timeseries 1min: AnalogSummaryHistory's time-weighted averages; fill_gaps marks the outage, not a held value",
        async () => {
          const r = await get(ts("&aggregation=1min&max_data_points=100000"));
          assert.equal(r.status, 200);
          const speed =
            (r.body as unknown as { target: string; datapoints: [number | null, number][] }[]).find(
              (s) => s.target === TAGS[1]!.name,
            )!;
          // Time-weighted since issue 29 (the arithmetic mean of the minute's points before):
          // Speed ramps 0 → 60 over each of its first minutes, so its first minute is 30, not 25.
          const expected = await sink.queries!.query<{ v: number; t: string }>(
            `SELECT Average AS v, toString(toUnixTimestamp64Milli(StartDateTime)) AS t
             FROM AnalogSummaryHistory
             WHERE TagName = {tag:String} AND wwResolution = 60000 AND Average IS NOT NULL
             ORDER BY StartDateTime`,
            { tag: TAGS[1]!.name },
          );
          assert.deepEqual(speed.datapoints, expected.map((e) => [e.v, Number(e.t)]));
          assert.deepEqual(speed.datapoints[0], [30, START_MS]);
          const filled = await get(ts("&aggregation=1min&max_data_points=100000&fill_gaps=true"));
          const gaps = (tag: string) =>
            (filled.body as unknown as { target: string; datapoints: [number | null, number][] }[])
              .find((s) => s.target === tag)!.datapoints.filter((p) => p[0] === null)
              .map((p) => p[1]);
          assert.deepEqual(
            gaps(TAGS[0]!.name),
            [START_MS + GAP_S * 1000],
            "one null marker at the minute of the gap markers (nothing covered)",
          );
          assert.deepEqual(
            gaps(TAGS[1]!.name),
            [],
            "Speed's 20 minutes without points hold its last value: no gap",
          );
        },
      );

      await t.step("wonderware_tags, machine, machine_type, sensor_type, sensor_data", async () => {
        const tags = await get("/consumption/wonderware_tags?search=press&limit=10");
        assert.deepEqual(tags.body.map((r) => r.tag), [TAGS[1]!.name, TAGS[0]!.name]);
        assert.equal(tags.body[0]!.points, HOURS * 360 - 120);
        assert.deepEqual((await get("/consumption/machine")).body, [{ machine: "Oven02" }, {
          machine: "Press01",
        }]);
        assert.deepEqual((await get("/consumption/machine_type")).body, [{ machine_type: "Oven" }, {
          machine_type: "Press",
        }]);
        assert.deepEqual((await get("/consumption/sensor_type")).body.map((r) => r.sensor_type), [
          "Recipe",
          "Speed",
          "Temperature",
        ]);
        const data = await get(
          `/consumption/sensor_data?machine=Press01&sensor_type=Speed&start_ts=${START_MS}&end_ts=${
            START_MS + 25_000
          }`,
        );
        assert.deepEqual(data.body.map((r) => [r.time, r.value, r.unit]), [
          ["2026-11-01T00:00:00.0000000Z", 0, "rpm"],
          ["2026-11-01T00:00:10.0000000Z", 10, "rpm"],
          ["2026-11-01T00:00:20.0000000Z", 20, "rpm"],
        ]);
        // Every column of every row equals a plain JOIN of the readings with MachineData.
        for (const filter of ["", "&machine_type=Press", "&sensor_type=Recipe&machine=Oven02"]) {
          const answer = await get(`/consumption/sensor_data?${HALF_HOUR}${filter}`);
          const joined = await joinedReadings(sink, filter);
          assert.ok(joined.length > 0, filter);
          assert.deepEqual(answer.body, joined, `sensor_data${filter}`);
        }
      });

      await t.step("bad parameters: 400 with every problem, named by parameter", async () => {
        const r = await get(
          "/consumption/wonderware_timeseries?tags=a&tags=b&start_ts=yesterday&aggregation=5min&max_data_points=0&fill_gaps=maybe&x=1",
        );
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, {
          error: "invalid parameters",
          issues: [
            {
              path: "x",
              message:
                "unknown parameter; known: tags, start_ts, end_ts, aggregation, fill_gaps, max_data_points",
            },
            {
              path: "start_ts",
              message: 'expected milliseconds since 1970 or an ISO 8601 time, got "yesterday"',
            },
            { path: "end_ts", message: "is required" },
            { path: "aggregation", message: "expected one of auto, raw, 1min" },
            { path: "fill_gaps", message: 'expected true or false, got "maybe"' },
            { path: "max_data_points", message: "must be at least 2" },
          ],
        });
        const two = await get("/consumption/wonderware_tags?limit=1&limit=2");
        assert.deepEqual(two.body.issues, [{
          path: "limit",
          message: "expected one value, got 2",
        }]);
        const big = await get("/consumption/wonderware_tags?limit=99999999999999999999");
        assert.deepEqual(big.body.issues, [{
          path: "limit",
          message: 'expected an integer, got "99999999999999999999"',
        }]);
      });

      await t.step(
        "500 hostile requests get 200 or 400, never an error, and change nothing",
        async () => {
          const hostile = [
            "'",
            '"',
            "';DROP TABLE WonderwareHistory;--",
            "/*",
            "*/",
            "--",
            ";",
            "\\",
            "\\'",
            "%",
            "_",
            "{x:String}",
            "Zoë ✓ 測試 🙂",
            "x".repeat(10_000),
            "-1",
            "1e308",
            "-9999999999999999999",
            "NaN",
            "Infinity",
            "null",
            "[1,2]",
            "{}",
            "\t\n",
            "1; SELECT 1",
            "' OR '1'='1",
          ];
          const routes = Object.entries(apiOf(spec)!.routes);
          let n = 0;
          for (let i = 0; n < 500; i++) {
            const [path, route] = routes[i % routes.length]!;
            const names = Object.keys(route.params);
            const q = new URLSearchParams();
            for (const [k, name] of names.entries()) {
              const v = hostile[(i + k * 7) % hostile.length]!;
              q.append(name, v);
              if ((i + k) % 5 === 0) q.append(name, v); // arrays where scalars are expected
            }
            if (i % 3 === 0 && names.includes("start_ts")) {
              q.set("start_ts", String(START_MS));
              q.set("end_ts", String(END_MS));
            }
            const res = await app.request(`${path}?${q}`);
            await res.body?.cancel();
            assert.ok(
              res.status === 200 || res.status === 400,
              `${path}?${q.toString().slice(0, 200)} → ${res.status}`,
            );
            n++;
          }
          const [{ c }] = await sink.queries!.query<{ c: number }>(
            "SELECT count() AS c FROM WonderwareHistory",
          ) as [{ c: number }];
          assert.equal(Number(c), count, "the data is unchanged");
        },
      );

      await t.step("OpenAPI 3.1 lists every route and parameter", async () => {
        const doc = (await get("/openapi.json")).body as unknown as {
          openapi: string;
          paths: Record<
            string,
            {
              get: {
                parameters: { name: string; in: string; schema: unknown }[];
                responses: Record<string, unknown>;
              };
            }
          >;
        };
        assert.equal(doc.openapi, "3.1.0");
        for (const [path, route] of Object.entries(apiOf(spec)!.routes)) {
          const op = doc.paths[path]?.get;
          assert.ok(op, path);
          assert.deepEqual(op.parameters.map((p) => p.name), Object.keys(route.params), path);
          assert.ok(op.parameters.every((p) => p.in === "query" && p.schema), path);
          assert.ok(op.responses["200"] && op.responses["400"], path);
        }
        const ops = Object.values(doc.paths).map((p) =>
          p.get as unknown as {
            operationId: string;
            summary: string;
            description: string;
            responses: Record<string, { content: Record<string, { schema: Json }> }>;
          }
        );
        assert.equal(
          new Set(ops.map((o) => o.operationId)).size,
          ops.length,
          "unique operationIds",
        );
        assert.ok(ops.some((o) => o.operationId === "getConsumptionWonderwareStatus"));
        for (const o of ops) {
          const text = o.description.replace(/\s+/g, " ");
          assert.ok(text.startsWith(o.summary), o.operationId);
          assert.ok(
            o.summary === text || /[.!?]$/.test(o.summary),
            `${o.operationId}: "${o.summary}"`,
          );
          const schema = o.responses["200"]!.content["application/json"]!.schema;
          const typed = JSON.stringify(schema);
          assert.ok(
            typed.includes("$ref") || typed.includes('"properties"'),
            `${o.operationId}: a typed schema, not a bare array or object`,
          );
        }
        const tags = ops.find((o) => o.operationId === "getConsumptionWonderwareTags")!;
        assert.deepEqual(
          (tags.responses["200"]!.content["application/json"]!.schema.items as Json).properties,
          {
            tag: { type: "string" },
            points: { type: "integer" },
            first_seen: { type: "string", format: "date-time" },
            last_seen: { type: "string", format: "date-time" },
            avg_value: { type: ["number", "null"] },
            min_value: { type: ["number", "null"] },
            max_value: { type: ["number", "null"] },
          },
        );
        const post = await app.request("/consumption/machine", { method: "POST" });
        assert.equal(post.status, 405);
        assert.equal(post.headers.get("Allow"), "GET, HEAD");
        assert.match((await post.json()).error, /POST is not allowed/);
      });

      await t.step("unknown routes are 404 JSON; /health and /metrics answer", async () => {
        const r = await get("/consumption/nope");
        assert.equal(r.status, 404);
        assert.equal(r.body.error, "no route GET /consumption/nope");
        assert.equal((await get("/health")).body.status, "ok");
        const metrics = await (await app.request("/metrics")).text();
        assert.match(
          metrics,
          /historian_sync_api_requests_total\{route="\/consumption\/wonderware_status",status="200"\} \d+/,
        );
        assert.match(metrics, /# TYPE historian_sync_backfill_units gauge/);
        assert.match(metrics, /^historian_sync_build_info\{version="[^"]+"\} 1$/m);
        // Latency is a histogram: cumulative buckets ending in +Inf = the count.
        const route = "/consumption/wonderware_status";
        const buckets = [...metrics.matchAll(
          /^historian_sync_api_request_seconds_bucket\{route="\/consumption\/wonderware_status",le="([^"]+)"\} (\d+)$/gm,
        )].map((m) => [m[1], Number(m[2])] as const);
        assert.ok(buckets.length >= 5, "buckets");
        assert.equal(buckets.at(-1)![0], "+Inf");
        for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]![1] >= buckets[i - 1]![1]);
        const count = Number(
          new RegExp(`historian_sync_api_request_seconds_count\\{route="${route}"\\} (\\d+)`).exec(
            metrics,
          )![1],
        );
        assert.equal(buckets.at(-1)![1], count);
        // Errors are counted for good, not from the last 50 kept.
        for (let i = 0; i < 60; i++) noteError(health, "sync", new Error(`failure ${i}`));
        const after = await (await app.request("/metrics")).text();
        assert.match(after, /^historian_sync_errors_total\{kind="sync"\} 60$/m);
        assert.equal(health.errors.length, 50, "the recent list stays bounded");
      });

      await t.step(
        "sensor_data: the dimension is read again once the engine rewrote it; keys too many for a query parameter run the lookup inside the query, same rows",
        async () => {
          const sqls: string[] = [];
          const fresh = createApi(apiOf(spec)!, {
            queries: {
              ...sink.queries!,
              query: (sql, params, options) => {
                sqls.push(sql);
                return sink.queries!.query(sql, params, options);
              },
            },
            health,
            log: createLogger({ level: "error", format: "json" }),
          });
          const mixer = `/consumption/sensor_data?${HALF_HOUR}&machine=Mixer77`;
          assert.deepEqual(await (await fresh.request(mixer)).json(), [], "no such machine yet");
          // 800 sensors of one machine, with long names: 64 KB of keys, twice what one request
          // sends as a parameter. Three of them have readings.
          const many: TagInfo[] = Array.from({ length: 800 }, (_, i) => ({
            name: `Bremen.L9.Mixer77.Sensor${
              String(i).padStart(3, "0")
            }_with_a_long_descriptive_name`,
            type: "analog",
            unit: "bar",
          }));
          await sink.setAssets(resolveAssets(spec.assets!, many, "wonderware"));
          await sink.write({
            readings: [0, 400, 799].flatMap((k) =>
              [0, 10, 20].map((s) => ({
                tag: many[k]!.name,
                time: T0 + BigInt(s) * 10_000_000n,
                value: k + s,
                text: null,
                quality: "good" as const,
                qualityCode: 0,
                fields: {},
              }))
            ),
            fields: {},
          });
          assert.deepEqual(
            await (await fresh.request(mixer)).json(),
            [],
            "the dimension as read before, while fresh",
          );
          health.assetsAt = new Date(); // as the engine notes after writing the dimension
          for (const filter of ["&machine=Mixer77", "", "&machine=Press01"]) {
            sqls.length = 0;
            const res = await fresh.request(`/consumption/sensor_data?${HALF_HOUR}${filter}`);
            assert.equal(res.status, 200);
            const joined = await joinedReadings(sink, filter);
            assert.deepEqual(await res.json(), joined, `sensor_data${filter}`);
            const inlined = sqls.some((q) => q.includes("(SELECT `tag` FROM ("));
            assert.equal(inlined, filter !== "&machine=Press01", `lookup inlined for ${filter}`);
          }
          assert.equal(
            (await joinedReadings(sink, "&machine=Mixer77")).length,
            9,
            "the three sensors' readings",
          );
        },
      );

      await t.step("ClickHouse down: 503 JSON without SQL text or addresses", async () => {
        await store.stop();
        const r = await get("/consumption/machine");
        assert.equal(r.status, 503);
        assert.deepEqual(r.body, { error: "the store is unavailable" });
        const status = await get("/health");
        assert.equal(status.status, 503);
        assert.equal(status.body.sink, "unreachable");
      });
    } finally {
      await sink.close();
      await store.stop();
    }
  },
});

Deno.test({
  name: "REST API with a bearer token and a CORS allowlist",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const vars: Record<string, string> = {
      API_TOKEN: "t0k3n-value",
      WONDERWARE_HOST: "x",
      CLICKHOUSE_URL: "http://127.0.0.1:1",
    };
    const loaded = await loadSpec("pipelines/wonderware.yaml", {
      plugins,
      sections,
      env: (n) => vars[n],
    });
    const api = { ...apiOf(loaded.spec)!, cors: ["https://grafana.plant.example"] };
    const app = createApi(api, {
      health: createHealth(),
      log: createLogger({ level: "error", format: "json" }),
    });
    const denied = await app.request("/consumption/machine");
    assert.equal(denied.status, 401);
    assert.deepEqual(await denied.json(), { error: "missing or wrong bearer token" });
    const wrong = await app.request("/consumption/machine", {
      headers: { Authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const ok = await app.request("/consumption/machine", {
      headers: { Authorization: "Bearer t0k3n-value", Origin: "https://grafana.plant.example" },
    });
    assert.equal(ok.status, 503, "authorized; no store in this test");
    assert.equal(ok.headers.get("Access-Control-Allow-Origin"), "https://grafana.plant.example");
    assert.ok(!JSON.stringify(await ok.json()).includes("t0k3n"));
    const other = await app.request("/health", { headers: { Origin: "https://evil.example" } });
    assert.equal(other.headers.get("Access-Control-Allow-Origin"), null);
    await other.body?.cancel();
  },
});
