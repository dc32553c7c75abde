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
import { benchPool, countHistoryRows } from "./_mssql.ts";
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

const pool = await benchPool(port);
const tags = (await pool.request().query(
  `SELECT TOP ${TAGS} TagName FROM TagRef WHERE TagType = 1 AND TagName NOT LIKE 'Sys%' ORDER BY TagName`,
)).recordset.map((r: { TagName: string }) => r.TagName);
const seconds = Math.ceil(ROWS / TAGS);
const end = new Date(Date.now() - 60_000);
const begin = new Date(end.getTime() - seconds * 1000);
const t0 = performance.now();
const rows = await countHistoryRows(pool, tags, begin, end);
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
