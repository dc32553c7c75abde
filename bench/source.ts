/**
 * bench:source — History rows through the Wonderware source plugin, and in the same run the
 * same rows with a bare npm:mssql streaming reader selecting all 33 columns (what a naive
 * extractor does). Both read the simulator over TDS on loopback.
 *
 *   deno task bench:source [--rows 2000000]
 *
 * Last line: JSON with rows, plugin_rows_per_s, bare_rows_per_s, ratio (plugin / bare).
 */
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { parseSpec } from "../engine/spec/load.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import wonderware from "../plugins/source-wonderware/mod.ts";
import { dateOf } from "../plugins/source-wonderware/source.ts";
import { benchPool, countHistoryRows } from "./_mssql.ts";
import { flag, median, spawnSimulator } from "./_util.ts";

const ROWS = flag("rows", 2_000_000);
const RUNS = flag("runs", 3);
const TAGS = 40;
// The simulator runs in a process of its own, as a Historian would.
const dir = await Deno.makeTempDir({ prefix: "bench-source-" });
await Deno.writeTextFile(
  `${dir}/plant.yaml`,
  `analog: ${TAGS}\ndiscrete: 0\nstring: 0\nanalog_rate: 1s\nhistory: 2d\nsystem_tags: false\n`,
);
const sim = await spawnSimulator(["--plant", `${dir}/plant.yaml`]);
const loaded = parseSpec(
  `version: 1\nsource: {wonderware: {host: 127.0.0.1, port: ${sim.port}, user: bench, password: bench}}\nsink: {clickhouse: {host: ch}}\nbackfill: {from: now-1d}\n`,
  "bench.yaml",
  { plugins, sections, env: () => undefined },
);
const source = await wonderware.create(loaded.plugins.source.options as never, {
  log: createLogger({ level: "warn" }),
  signal: new AbortController().signal,
  clock: systemClock,
  secrets: new Set(),
  dataDir: "/tmp",
});
const tags = await source.discover();
const to = (await source.serverTime()) - 60n * 10_000_000n;
const from = to - BigInt(Math.ceil(ROWS / tags.length)) * 10_000_000n;

async function viaPlugin(): Promise<[number, number]> {
  let rows = 0;
  const t0 = performance.now();
  for await (const batch of source.read(tags, { from, to }, { batchSize: 10_000 })) {
    rows += batch.readings.length;
  }
  return [rows, (performance.now() - t0) / 1000];
}

const pool = await benchPool(sim.port);

async function bare(): Promise<[number, number]> {
  const t0 = performance.now();
  const rows = await countHistoryRows(pool, tags.map((t) => t.name), dateOf(from), dateOf(to), "*");
  return [rows, (performance.now() - t0) / 1000];
}

const pluginRates: number[] = [];
const bareRates: number[] = [];
let rows = 0;
for (let i = 0; i < RUNS; i++) {
  const [p, ps] = await viaPlugin();
  const [b, bs] = await bare();
  if (p !== b) throw new Error(`the plugin read ${p} rows, the bare reader ${b}`);
  rows = p;
  pluginRates.push(p / ps);
  bareRates.push(b / bs);
  console.log(
    `run ${i + 1}: plugin ${Math.round(p / ps)} rows/s, bare (33 columns) ${
      Math.round(b / bs)
    } rows/s`,
  );
}
await pool.close();
await source.close();
await sim.stop();
await Deno.remove(dir, { recursive: true });
const plugin = median(pluginRates);
const bareRate = median(bareRates);
console.log(JSON.stringify({
  rows,
  runs: RUNS,
  plugin_rows_per_s: Math.round(plugin),
  bare_rows_per_s: Math.round(bareRate),
  ratio: Math.round(plugin / bareRate * 100) / 100,
}));
