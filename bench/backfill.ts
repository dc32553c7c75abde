/**
 * bench:backfill — the realistic plant (simulator shape `realistic`: per-sensor decimals, scan
 * rates from 1 s to 5 minutes, stored on change past a deadband) of 200 tags over 3 days, about
 * 9 million stored readings, backfilled by the engine (`main.ts backfill`, a process of its own)
 * from the simulator (its own process) into the embedded store (its own process), in units of
 * 50 tags × 6 hours (about as many rows as the 1-hour units of 1 s data before); then the bare
 * mssql read rate of the same data; then what the tables cost on disk once merged.
 *
 *   deno task bench:backfill [--tags 200] [--hours 72] [--window-hours 6] [--parallelism 4]
 *                            [--memory-mb 32] [--batch-rows N] [--shape demo] [--spec file]
 *                            [--keep]
 *
 * `--shape demo` backfills the demo plant instead (every tag at 1 s with six-decimal values:
 * the benchmark before the realistic plant, with --hours 12 --window-hours 1). `--spec` runs
 * another spec (default pipelines/wonderware.yaml), to compare tables; `--keep` leaves the store's
 * data folder (its path printed) for a look at the tables afterwards.
 *
 * The engine runs with the engine's V8 flags (scripts/v8_flags.ts), as `deno task backfill`
 * runs it; `ENGINE_V8_FLAGS=--a,--b` tries others, `ENGINE_V8_FLAGS=none` V8's defaults.
 *
 * Last line: JSON with rows, rows_per_s, engine_peak_rss_mb, bare_rows_per_s, ratio, and where
 * the time went: cpu_s (CPU seconds of the simulator, the engine and the embedded store during
 * the backfill) and bare_cpu_s (of the simulator and this process's reader during the bare read);
 * then bytes_per_reading (bytes on disk per stored row of every table after OPTIMIZE … FINAL,
 * the raw table's per stored reading), raw_columns (the raw table's bytes per reading by column),
 * tables (rows and bytes) and all_tables_per_reading.
 */
import { benchPool, countHistoryRows } from "./_mssql.ts";
import { v8FlagsArg } from "../scripts/v8_flags.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import { storageReport } from "./_bytes.ts";
import { cpuByRole, cpuSeconds, flag, spawnSimulator, tenths } from "./_util.ts";

const TAGS = flag("tags", 200);
const HOURS = flag("hours", 72);
const WINDOW_HOURS = flag("window-hours", 6);
const SHAPE = Deno.args.includes("--shape")
  ? Deno.args[Deno.args.indexOf("--shape") + 1]
  : "realistic";
const dir = await Deno.makeTempDir({ prefix: "bench-backfill-" });
await Deno.writeTextFile(
  `${dir}/plant.yaml`,
  `shape: ${SHAPE}\nanalog: ${TAGS}\ndiscrete: 0\nstring: 0\nanalog_rate: 1s\nhistory: ${
    HOURS + 2
  }h\nsystem_tags: false\n`,
);
const SPEC = Deno.args.includes("--spec")
  ? Deno.args[Deno.args.indexOf("--spec") + 1]!
  : "pipelines/wonderware.yaml";
const spec = (await Deno.readTextFile(SPEC))
  .replace("window: ${WONDERWARE_BACKFILL_CHUNK_DAYS:-1}d", `window: ${WINDOW_HOURS}h`)
  .replace(
    "parallelism: 4",
    `parallelism: ${flag("parallelism", 4)}` +
      (Deno.args.includes("--batch-rows") ? `\n  batch_rows: ${flag("batch-rows", 0)}` : "") +
      (Deno.args.includes("--memory-mb") ? `\n  memory: ${flag("memory-mb", 0)}MB` : ""),
  );
await Deno.writeTextFile(
  `${dir}/spec.yaml`,
  spec.replace("../spec.schema.json", "spec.schema.json"),
);

const sim = await spawnSimulator(["--plant", `${dir}/plant.yaml`]);
const pool = await benchPool(sim.port);
const now = (await pool.request().query("SELECT SYSUTCDATETIME() AS now")).recordset[0].now as Date;
const to = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 3_600_000);
const from = new Date(to.getTime() - HOURS * 3_600_000);

console.log(
  `backfilling ${TAGS} tags × ${HOURS} h of the ${SHAPE} plant: ${from.toISOString()} .. ${to.toISOString()}`,
);
const simCpu0 = cpuSeconds(sim.pid);
const cpu = cpuByRole(dir, {
  store: /clickhouse-embedded/,
  engine: /main\.ts backfill/,
  simulator: /simulator\/main\.ts/,
});
const t0 = performance.now();
const engine = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    ...engineFlags(Deno.env.get("ENGINE_V8_FLAGS")),
    "main.ts",
    "backfill",
    `${dir}/spec.yaml`,
    "--from",
    from.toISOString(),
    "--to",
    to.toISOString(),
  ],
  env: {
    WONDERWARE_HOST: "127.0.0.1",
    WONDERWARE_PORT: String(sim.port),
    WONDERWARE_USERNAME: "bench",
    WONDERWARE_PASSWORD: "bench",
    CLICKHOUSE_EMBEDDED: "true",
    CLICKHOUSE_EMBEDDED_PATH: `${dir}/clickhouse`,
    CLICKHOUSE_EMBEDDED_PORT: "0",
    LOG_LEVEL: "info",
  },
  stdout: "piped",
  stderr: "inherit",
}).output();
const seconds = (performance.now() - t0) / 1000;
const cpuRun = cpu.stop();
cpuRun.simulator = tenths(cpuSeconds(sim.pid) - simCpu0);

function engineFlags(flags: string | undefined): string[] {
  if (flags === "none") return [];
  return [flags ? `--v8-flags=${flags}` : v8FlagsArg];
}
const lines = new TextDecoder().decode(engine.stdout).trim().split("\n");
const report = JSON.parse(lines.at(-1)!);
if (engine.code !== 0) throw new Error(`the backfill failed: ${lines.at(-1)}`);

// The same data read by a bare mssql streaming reader, the 7 columns that vary per row.
const tags = (await pool.request().query("SELECT TagName FROM TagRef WHERE TagType = 1")).recordset
  .map((r: { TagName: string }) => r.TagName);
let bareRows = 0;
const [simCpu1, selfCpu1] = [cpuSeconds(sim.pid), cpuSeconds()];
const b0 = performance.now();
for (let i = 0; i < tags.length; i += 50) {
  bareRows += await countHistoryRows(pool, tags.slice(i, i + 50), new Date(from.getTime() - 1), to);
}
const bareSeconds = (performance.now() - b0) / 1000;
const cpuBare = {
  simulator: tenths(cpuSeconds(sim.pid) - simCpu1),
  reader: tenths(cpuSeconds() - selfCpu1),
};
await pool.close();
await sim.stop();

// What the stored tables cost once merged: the store again, on the engine's data folder.
const store = await startEmbedded({
  port: 0,
  path: `${dir}/clickhouse`,
  log: createLogger({ level: "error" }),
  clock: systemClock,
});
const { user, password } = store.credentials.writer;
const sql = async (query: string) => {
  const r = await fetch(`${store.url}/?default_format=JSONEachRow`, {
    method: "POST",
    body: query,
    headers: { Authorization: `Basic ${btoa(`${user}:${password}`)}` },
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${query}: ${text}`);
  return text.trim() ? text.trim().split("\n").map((l) => JSON.parse(l)) : [];
};
const bytes = await storageReport(sql, "WonderwareHistory");
await store.stop();
if (Deno.args.includes("--keep")) console.log(`kept the store's data in ${dir}/clickhouse`);
else await Deno.remove(dir, { recursive: true });

const rowsPerS = Math.round(report.rows / seconds);
const bare = Math.round(bareRows / bareSeconds);
console.log(
  `engine: ${report.rows} rows in ${
    seconds.toFixed(1)
  } s end to end (${report.rowsPerSecond} rows/s inside the run)`,
);
console.log(`bare mssql read of the same data: ${bareRows} rows in ${bareSeconds.toFixed(1)} s`);
console.log(JSON.stringify({
  rows: report.rows,
  rows_per_s: rowsPerS,
  run_rows_per_s: report.rowsPerSecond,
  engine_peak_rss_mb: report.peak_rss_mb,
  bare_rows: bareRows,
  bare_rows_per_s: bare,
  ratio: Math.round(rowsPerS / bare * 100) / 100,
  failed_units: report.failed.length,
  cpu_s: cpuRun,
  bare_cpu_s: cpuBare,
  shape: SHAPE,
  ...bytes,
}));
