/**
 * bench:sim — the Historian simulator under load.
 *
 * 1. Starts `deno task sim` with a 10,000-tag, one-year plant and measures the time until it
 *    listens and its resident memory then.
 * 2. A bare npm:mssql streaming reader pulls Full-mode History rows (40 tags at 1 s, about 14
 *    hours = 2 million rows) and counts them.
 *
 *   deno task bench:sim [--rows 2000000]
 *
 * Last line: JSON with rows, rows_per_s, sim_peak_rss_mb, startup_ms, startup_rss_mb.
 */
import sql from "mssql";
import { flag, peakRssMb, spawnSimulator } from "./_util.ts";

const ROWS = flag("rows", 2_000_000);
const TAGS = 40;
const dir = await Deno.makeTempDir({ prefix: "bench-sim-" });
const plant = `${dir}/plant.yaml`;
await Deno.writeTextFile(
  plant,
  "seed: 7\nanalog: 8000\ndiscrete: 1000\nstring: 1000\nanalog_rate: 1s\nhistory: 365d\n",
);
const started = performance.now();
const sim = await spawnSimulator(["--plant", plant]);
const port = sim.port;
const startupMs = Math.round(performance.now() - started);
const child = { pid: sim.pid };
const rssNow = () => {
  const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
};
const startupRss = rssNow();
console.log(
  `simulator: 10,002 tags, one year of history; started in ${startupMs} ms, ${startupRss} MB RSS`,
);

const pool = new sql.ConnectionPool({
  server: "127.0.0.1",
  port,
  user: "bench",
  password: "bench",
  database: "Runtime",
  options: { encrypt: false, trustServerCertificate: true },
  requestTimeout: 0,
});
await pool.connect();
const tags = (await pool.request().query(
  `SELECT TOP ${TAGS} TagName FROM TagRef WHERE TagType = 1 AND TagName NOT LIKE 'Sys%' ORDER BY TagName`,
)).recordset.map((r: { TagName: string }) => r.TagName);
const seconds = Math.ceil(ROWS / TAGS);
const end = new Date(Date.now() - 60_000);
const begin = new Date(end.getTime() - seconds * 1000);
const request = pool.request();
request.stream = true;
tags.forEach((t: string, i: number) => request.input(`t${i}`, t));
request.input("from", sql.DateTime2(7), begin);
request.input("to", sql.DateTime2(7), end);
let rows = 0;
const t0 = performance.now();
await new Promise<void>((resolve, reject) => {
  request.on("row", () => void rows++);
  request.on("error", reject);
  request.on("done", () => resolve());
  request.query(
    `SELECT DateTime, TagName, Value, vValue, Quality, QualityDetail, OPCQuality FROM History
     WHERE TagName IN (${tags.map((_: string, i: number) => `@t${i}`).join(", ")})
     AND DateTime > @from AND DateTime <= @to AND wwRetrievalMode = 'Full' AND wwTimeZone = 'UTC'`,
  );
});
const readSeconds = (performance.now() - t0) / 1000;
const simPeak = peakRssMb(child.pid);
await pool.close();
await sim.stop();
await Deno.remove(dir, { recursive: true });
console.log(`read ${rows} rows in ${readSeconds.toFixed(1)} s`);
console.log(JSON.stringify({
  rows,
  rows_per_s: Math.round(rows / readSeconds),
  sim_peak_rss_mb: simPeak,
  startup_ms: startupMs,
  startup_rss_mb: startupRss,
  tags: 10_002,
  history_days: 365,
}));
