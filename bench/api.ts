/**
 * bench:api — latency of the generated REST routes over a table of 10+ million readings:
 * 10 tags × 24 h at 1 s queried with max_data_points=1000 (raw and 1-minute variants), among
 * 120 tags stored in total, plus wonderware_status; 10 more tags × 30 days at 10 s for a
 * month-long series query; the asset dimension's routes (machine, machine_type, sensor_type) and
 * one machine's readings over 10 minutes and an hour (sensor_data), and over 10 minutes for a
 * different machine on every request; the status route while
 * ten heavy series requests run; and AVEVA's AnalogSummaryHistory through wonderware_summary for
 * 100 tags × 24 h at 1-minute resolution (144,000 rows) and at 1 hour (2,400). The summaries are
 * computed in each unit's commit, as the engine does. Requests go through app.request() (the Hono app without a socket) to the embedded ClickHouse over HTTP,
 * on a settled store (the load's merges done), each route after three uncounted warm-up requests.
 *
 *   deno task bench:api [--tags 120] [--requests 30]
 *
 * Last line: JSON with stored_rows and p50/p95 latencies in ms.
 */
import { resolveAssets } from "../engine/assets.ts";
import { createLogger } from "../engine/log.ts";
import { createHealth } from "../engine/health.ts";
import { apiOf } from "../api/spec.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { createApi } from "../api/app.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import { preparedSink } from "./_sink.ts";
import { flag, median, percentile } from "./_util.ts";

const TAGS = flag("tags", 120);
const REQUESTS = flag("requests", 30);
const DAY_S = 86_400;
const dir = await Deno.makeTempDir({ prefix: "bench-api-" });
const log = createLogger({ level: "warn" });
const store = await startEmbedded({ port: 0, path: dir, log, clock: systemClock });
try {
  const { sink, loaded } = await preparedSink(store, log, dir, { summaries: true });
  const { assets } = loaded.spec;
  const tags: TagInfo[] = Array.from({ length: TAGS }, (_, i) => ({
    name: `Hamburg.L${i % 4 + 1}.Press${String(i + 1).padStart(3, "0")}.Temperature`,
    type: "analog" as const,
    unit: "°C",
  }));
  await sink.setAssets(resolveAssets(assets!, tags, "wonderware"));
  const startMs = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * DAY_S * 1000;
  const loadStarted = performance.now();
  /** `tags` at one reading every `stepS` seconds for `seconds` from `fromMs`, 4 tags a batch. */
  const load = async (list: TagInfo[], fromMs: number, seconds: number, stepS: number) => {
    const start = BigInt(fromMs) * 10_000n;
    for (let c = 0; c < list.length; c += 4) {
      const chunk = list.slice(c, c + 4);
      for (let s = 0; s < seconds; s += 25_000 * stepS) {
        const readings: Reading[] = [];
        for (let k = s; k < Math.min(seconds, s + 25_000 * stepS); k += stepS) {
          for (const [j, tag] of chunk.entries()) {
            readings.push({
              tag: tag.name,
              time: start + BigInt(k) * 10_000_000n,
              value: 60 + 10 * Math.sin(k / 900 + c + j),
              text: null,
              quality: "good",
              qualityCode: 0,
              fields: { QualityDetail: 192, OPCQuality: 192 },
            });
          }
        }
        await sink.write({ readings, fields: { wwRetrievalMode: "FULL" } });
      }
      await sink.commit({
        tags: chunk.map((t) => t.name),
        window: { from: start - 1n, to: start + BigInt(seconds) * 10_000_000n },
        rows: 1,
        readings: 1,
      });
    }
  };
  await load(tags, startMs, DAY_S, 1);
  // 10 more tags over 30 days at 10 s, for the month-long query.
  const month: TagInfo[] = Array.from({ length: 10 }, (_, i) => ({
    name: `Lyon.L1.Oven${String(i + 1).padStart(2, "0")}.Temperature`,
    type: "analog" as const,
    unit: "°C",
  }));
  const monthStartMs = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 31 * DAY_S * 1000;
  await sink.setAssets(resolveAssets(assets!, month, "wonderware"));
  await load(month, monthStartMs, 30 * DAY_S, 10);
  const [{ n }] = await sink.queries!.query<{ n: number }>(
    "SELECT count() AS n FROM WonderwareHistory",
  ) as [
    { n: number },
  ];
  console.log(`stored ${n} rows in ${((performance.now() - loadStarted) / 1000).toFixed(0)} s`);
  // Latency on a settled store, as a dashboard meets it: the merges the load started are done.
  for (let waited = 0; waited < 120; waited++) {
    const [{ merges }] = await sink.queries!.query<{ merges: number }>(
      "SELECT count() AS merges FROM system.merges",
    ) as [{ merges: number }];
    if (Number(merges) === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }

  const app = createApi(apiOf(loaded.spec)!, {
    queries: sink.queries,
    health: createHealth(),
    log,
  });
  const ten = tags.slice(0, 10).map((t) => t.name).join(",");
  const range = `start_ts=${startMs}&end_ts=${startMs + DAY_S * 1000}`;
  /** Latencies of `path` (or of `path(i)` for request i), after three uncounted requests. */
  const measure = async (path: string | ((i: number) => string)) => {
    const times: number[] = [];
    for (let i = -3; i < REQUESTS; i++) {
      const t = performance.now();
      const res = await app.request(typeof path === "string" ? path : path(i + 3));
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
      if (i >= 0) times.push(performance.now() - t);
    }
    return { p50: Math.round(median(times)), p95: Math.round(percentile(times, 95)) };
  };
  const raw = await measure(
    `/consumption/wonderware_timeseries?tags=${ten}&${range}&max_data_points=1000`,
  );
  const oneMin = await measure(
    `/consumption/wonderware_timeseries?tags=${ten}&${range}&aggregation=1min&max_data_points=1000`,
  );
  const status = await measure("/consumption/wonderware_status");
  const monthly = await measure(
    `/consumption/wonderware_timeseries?tags=${
      month.map((t) => t.name).join(",")
    }&start_ts=${monthStartMs}&end_ts=${monthStartMs + 30 * DAY_S * 1000}&max_data_points=1000`,
  );
  // The asset dimension's routes, and one machine's readings over the last 10 minutes and the
  // last hour of its day (600 and 3,600 rows of 12 columns: about 160 KB and 1 MB of JSON).
  const machines = await measure("/consumption/machine");
  const machineTypes = await measure("/consumption/machine_type");
  const sensorTypes = await measure("/consumption/sensor_type");
  const last = (s: number, machine = "Press001") =>
    `/consumption/sensor_data?machine=${machine}&start_ts=${startMs + (DAY_S - s) * 1000}&end_ts=${
      startMs + DAY_S * 1000
    }`;
  const sensorData10m = await measure(last(600));
  const sensorData1h = await measure(last(3600));
  // A machine not asked for before on every request: no earlier answer fits it (the route's asset
  // lookup is shared by every filter, read at most every 30 s).
  const sensorDataNew = await measure((i) =>
    last(600, tags[(i + 1) % tags.length]!.name.split(".")[2]!)
  );
  // AVEVA's AnalogSummaryHistory for 100 tags over their day: 1,440 minutes each, or 24 hours.
  const hundred = tags.slice(0, 100).map((t) => t.name).join(",");
  const summary = (resolution: string) =>
    `/consumption/wonderware_summary?tags=${hundred}&${range}&resolution=${resolution}`;
  const first = await app.request(summary("1m"));
  const rows = (await first.json() as unknown[]).length;
  if (rows !== 100 * 1440) throw new Error(`wonderware_summary 1m: ${rows} rows, not 144,000`);
  const summary1m = await measure(summary("1m"));
  const summary1h = await measure(summary("1h"));
  // The status route while ten heavy series requests run (over and over).
  let heavy = true;
  const heavyPath = `/consumption/wonderware_timeseries?tags=${ten}&${range}&max_data_points=1000`;
  const load10 = Array.from({ length: 10 }, async () => {
    while (heavy) {
      const res = await app.request(heavyPath);
      await res.text();
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  const underLoad = await measure("/consumption/wonderware_status");
  heavy = false;
  await Promise.all(load10);
  console.log(`timeseries raw: p50 ${raw.p50} ms, p95 ${raw.p95} ms`);
  console.log(`timeseries 1min: p50 ${oneMin.p50} ms, p95 ${oneMin.p95} ms`);
  console.log(`status: p50 ${status.p50} ms, p95 ${status.p95} ms`);
  console.log(`timeseries 30 days: p50 ${monthly.p50} ms, p95 ${monthly.p95} ms`);
  console.log(`status under load: p50 ${underLoad.p50} ms, p95 ${underLoad.p95} ms`);
  console.log(
    `summary 100 tags × 24 h at 1 min (${rows} rows): p50 ${summary1m.p50} ms, p95 ${summary1m.p95} ms`,
  );
  console.log(`summary 100 tags × 24 h at 1 h: p50 ${summary1h.p50} ms, p95 ${summary1h.p95} ms`);
  for (
    const [name, m] of Object.entries({
      machines,
      machineTypes,
      sensorTypes,
      sensorData10m,
      sensorData1h,
      sensorDataNew,
    })
  ) console.log(`${name}: p50 ${m.p50} ms, p95 ${m.p95} ms`);
  await sink.close();
  console.log(JSON.stringify({
    stored_rows: Number(n),
    requests_each: REQUESTS,
    timeseries_raw_p50_ms: raw.p50,
    timeseries_raw_p95_ms: raw.p95,
    timeseries_1min_p50_ms: oneMin.p50,
    timeseries_1min_p95_ms: oneMin.p95,
    status_p50_ms: status.p50,
    status_p95_ms: status.p95,
    timeseries_30d_p50_ms: monthly.p50,
    timeseries_30d_p95_ms: monthly.p95,
    status_under_load_p50_ms: underLoad.p50,
    status_under_load_p95_ms: underLoad.p95,
    machine_p95_ms: machines.p95,
    machine_type_p95_ms: machineTypes.p95,
    sensor_type_p95_ms: sensorTypes.p95,
    sensor_data_10min_p95_ms: sensorData10m.p95,
    sensor_data_1h_p95_ms: sensorData1h.p95,
    sensor_data_10min_new_machine_p95_ms: sensorDataNew.p95,
    summary_1m_100_tags_24h_rows: rows,
    summary_1m_100_tags_24h_p50_ms: summary1m.p50,
    summary_1m_100_tags_24h_p95_ms: summary1m.p95,
    summary_1h_100_tags_24h_p50_ms: summary1h.p50,
    summary_1h_100_tags_24h_p95_ms: summary1h.p95,
  }));
} finally {
  await store.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
