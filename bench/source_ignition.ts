/**
 * bench:source:ignition — history rows through the Ignition source plugin, and in the same run
 * the same rows with a bare npm:postgres cursor over the same partitions (the same ordered
 * UNION ALL, every column, rows counted and dropped). Both read a real PostgreSQL (Debian's
 * server, started here in a temporary directory, as the tests do) holding a SQL Tag Historian
 * database: 40 float tags at 1 s in daily partitions.
 *
 *   deno task bench:source:ignition [--rows 2000000] [--runs 3]
 *
 * Last line: JSON with rows, plugin_rows_per_s, bare_rows_per_s, ratio (plugin / bare) and
 * plugin_peak_rss_mb (this process's peak after the plugin's first pass, before any bare read;
 * base_rss_mb is the peak before it, with the fixture written and the modules loaded).
 */
import postgres from "postgres";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { load } from "../cli/_load.ts";
import ignition from "../plugins/source-ignition/mod.ts";
import { startPostgres } from "../simulator/ignition/postgres.ts";
import { flag, median, peakRssMb } from "./_util.ts";

const ROWS = flag("rows", 2_000_000);
const RUNS = flag("runs", 3);
const TAGS = 40;
const DAY = 86_400_000;
const seconds = Math.ceil(ROWS / TAGS);
const start = Date.UTC(2026, 10, 1);
const end = start + seconds * 1000; // (start, end]: `seconds` rows per tag

const pg = await startPostgres();
const sql = postgres(pg.url, { onnotice: () => {}, max: 1 });
await sql.unsafe(`
  CREATE TABLE sqlth_drv (id int PRIMARY KEY, name text, provider text);
  CREATE TABLE sqlth_scinfo (id int PRIMARY KEY, scname text, drvid int);
  CREATE TABLE sqlth_te (id int PRIMARY KEY, tagpath text, scid int, datatype int, querymode int,
    created bigint, retired bigint);
  CREATE TABLE sqlth_partitions (pname text, drvid int, start_time bigint, end_time bigint,
    blocksize int, flags int);
  INSERT INTO sqlth_drv VALUES (1, 'plant-gw', 'default');
  INSERT INTO sqlth_scinfo VALUES (1, 'default', 1);
  INSERT INTO sqlth_te SELECT i, 'site1/line' || (i % 4) || '/machine' || i || '/temperature', 1, 1, 3, 0, NULL
    FROM generate_series(1, ${TAGS}) AS i;`);
const tables: string[] = [];
for (let d = Math.floor(start / DAY) * DAY; d <= end; d += DAY) {
  const name = `sqlt_data_1_${new Date(d).toISOString().slice(0, 10).replaceAll("-", "")}`;
  tables.push(name);
  const lo = Math.max(d, start + 1000), hi = Math.min(d + DAY - 1000, end);
  await sql.unsafe(`
    CREATE TABLE ${name} (tagid int NOT NULL, intvalue bigint, floatvalue double precision,
      stringvalue varchar(255), datevalue timestamp, dataintegrity int, t_stamp bigint NOT NULL,
      PRIMARY KEY (tagid, t_stamp));
    INSERT INTO ${name}
      SELECT tag, NULL, 20 + (t / 1000 % 600) / 10.0 + tag, NULL, NULL, 192, t
      FROM generate_series(1, ${TAGS}) AS tag, generate_series(${lo}::bigint, ${hi}::bigint, 1000) AS t;
    CREATE INDEX ${name}t_stampndx ON ${name} (t_stamp);
    INSERT INTO sqlth_partitions VALUES ('${name}', 1, ${d}, ${d + DAY}, 0, 0);
    ANALYZE ${name};`);
}

const loaded = await load(
  "pipelines/ignition.yaml",
  (n) => ({ IGNITION_DATABASE_URL: pg.url, CLICKHOUSE_URL: "http://unused:8123" })[n],
);
const source = await ignition.create(loaded.plugins.source.options as never, {
  log: createLogger({ level: "warn" }),
  signal: new AbortController().signal,
  clock: systemClock,
  secrets: new Set(),
  dataDir: "/tmp",
});
const tags = await source.discover();
const window = { from: BigInt(start) * 10_000n, to: BigInt(end) * 10_000n };

async function viaPlugin(): Promise<[number, number]> {
  let rows = 0;
  const t0 = performance.now();
  for await (const batch of source.read(tags, window, { batchSize: 10_000 })) {
    rows += batch.readings.length;
  }
  return [rows, (performance.now() - t0) / 1000];
}

async function bare(): Promise<[number, number]> {
  const t0 = performance.now();
  const union = tables.map((t) =>
    `SELECT * FROM ${t} WHERE tagid = ANY($1) AND t_stamp > $2 AND t_stamp <= $3`
  ).join(" UNION ALL ");
  let rows = 0;
  const cursor = sql.unsafe(`SELECT * FROM (${union}) AS h ORDER BY t_stamp, tagid`, [
    Array.from({ length: TAGS }, (_, i) => i + 1),
    start,
    end,
  ]).cursor(10_000);
  for await (const chunk of cursor) rows += chunk.length;
  return [rows, (performance.now() - t0) / 1000];
}

const pluginRates: number[] = [];
const bareRates: number[] = [];
let rows = 0;
let pluginRss = 0;
const baseRss = peakRssMb();
for (let i = 0; i < RUNS; i++) {
  const [p, ps] = await viaPlugin();
  if (i === 0) pluginRss = peakRssMb();
  const [b, bs] = await bare();
  if (p !== b) throw new Error(`the plugin read ${p} rows, the bare reader ${b}`);
  rows = p;
  pluginRates.push(p / ps);
  bareRates.push(b / bs);
  console.log(
    `run ${i + 1}: plugin ${Math.round(p / ps)} rows/s, bare cursor ${Math.round(b / bs)} rows/s`,
  );
}
await source.close();
await sql.end();
await pg.stop();
const plugin = median(pluginRates);
const bareRate = median(bareRates);
console.log(JSON.stringify({
  rows,
  runs: RUNS,
  plugin_rows_per_s: Math.round(plugin),
  bare_rows_per_s: Math.round(bareRate),
  ratio: Math.round(plugin / bareRate * 100) / 100,
  plugin_peak_rss_mb: pluginRss,
  base_rss_mb: baseRss,
}));
