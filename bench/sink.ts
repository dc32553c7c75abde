/**
 * bench:sink — History rows through the ClickHouse sink into the embedded store, the way the
 * backfill writes them: per unit (50 tags over 6 hours of the realistic plant, the simulator's
 * `shape: realistic`, each reading with the Historian's text of its number as vValue) the count
 * that tells a range never written, then sink.write() per batch (RowBinary insert with its
 * deduplication token; with `--check`, the comparison with stored rows a re-read does) and the
 * unit's commit (the aggregate recompute); at the end, every table merged (OPTIMIZE … FINAL) and
 * its bytes on disk per stored row.
 *
 *   deno task bench:sink [--rows 5000000] [--tags 200] [--batch 100000] [--check] [--summaries]
 *
 * `--summaries` keeps AVEVA's summary tables too, recomputed in each unit's commit.
 * Prints progress, then as its last line JSON with rows, rows_per_s (the readings are computed
 * beforehand, unit by unit, outside the timed calls), peak RSS (this process, and the embedded
 * store's process), cpu_s (the CPU seconds of both; the store's include its background merges,
 * a steadier measure than the rate on a shared machine), and bytes_per_reading, raw_columns,
 * tables and all_tables_per_reading as bench:backfill reports them.
 */
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Reading } from "../engine/types.ts";
import { parseTicks } from "../engine/types.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import { DEFAULT_PLANT, generatePlant } from "../simulator/historian/plant.ts";
import { storageReport } from "./_bytes.ts";
import { preparedSink } from "./_sink.ts";
import { cpuSeconds, flag, peakRssMb, tenths } from "./_util.ts";

const ROWS = flag("rows", 5_000_000);
const TAGS = flag("tags", 200);
const BATCH = flag("batch", 100_000);
const CHECK = Deno.args.includes("--check");
const SUMMARIES = Deno.args.includes("--summaries");
const UNIT_TAGS = 50;
const UNIT_TICKS = 6n * 36_000_000_000n;

const dir = await Deno.makeTempDir({ prefix: "bench-sink-" });
const log = createLogger({ level: "warn" });
const store = await startEmbedded({ port: 0, path: dir, log, clock: systemClock });
try {
  const { sink } = await preparedSink(store, log, dir, { summaries: SUMMARIES });

  const t0 = parseTicks("2026-10-01T00:00:00Z");
  const plant = generatePlant(
    {
      ...DEFAULT_PLANT,
      analog: TAGS,
      discrete: 0,
      string: 0,
      systemTags: false,
      shape: "realistic",
    },
    t0,
  );
  const fields = { wwRetrievalMode: "FULL", wwVersion: "LATEST", wwTimeZone: "UTC" };
  /** A unit's readings as the Wonderware source delivers them. */
  const unitReadings = (tags: typeof plant, from: bigint): Reading[] =>
    tags.flatMap((g) =>
      [...g.series.range(from, false, from + UNIT_TICKS)].map((p) => ({
        tag: g.meta.name,
        time: p.t,
        value: p.value,
        text: p.text ?? (p.value === null ? null : String(p.value)),
        quality: p.quality === 0 ? "good" : "bad",
        qualityCode: p.quality,
        fields: { QualityDetail: p.qd, OPCQuality: p.opc, wwTagKey: g.meta.key },
      }))
    );
  let written = 0;
  let seconds = 0;
  let lastReport = performance.now();
  for (let from = t0; written < ROWS; from += UNIT_TICKS) {
    for (let i = 0; i < plant.length && written < ROWS; i += UNIT_TAGS) {
      const chunk = plant.slice(i, i + UNIT_TAGS);
      const readings = unitReadings(chunk, from).slice(0, ROWS - written);
      const tags = chunk.map((g) => g.meta.name);
      const window = { from, to: from + UNIT_TICKS };
      const started = performance.now();
      const fresh = !CHECK && (await sink.counts!.count(tags, window)).size === 0;
      for (let b = 0; b < readings.length; b += BATCH) {
        const batch = readings.slice(b, b + BATCH);
        written += (await sink.write({ readings: batch, fields }, { fresh })).written;
      }
      // The same aggregate work per unit as a backfill unit's commit.
      await sink.commit({ tags, window, rows: readings.length, readings: readings.length });
      seconds += (performance.now() - started) / 1000;
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        console.log(
          `${written} rows, ${Math.round(written / seconds)} rows/s, rss ${
            Math.round(Deno.memoryUsage().rss / 1e6)
          } MB`,
        );
      }
    }
  }
  const cpu = { bench: cpuSeconds(), store: cpuSeconds(store.pid() ?? "self") };
  const [stored] = await sink.queries!.query<{ n: number }>(
    "SELECT count() AS n FROM WonderwareHistory",
  );
  const bytes = await storageReport(
    (sql) => sink.queries!.query<Record<string, unknown>>(sql),
    "WonderwareHistory",
  );
  await sink.close();
  const result = {
    rows: written,
    stored_rows: Number(stored!.n),
    seconds: tenths(seconds),
    rows_per_s: Math.round(written / seconds),
    batch_rows: BATCH,
    compared_with_stored: CHECK,
    peak_rss_mb: peakRssMb(),
    store_peak_rss_mb: peakRssMb(store.pid() ?? "self"),
    cpu_s: { bench: tenths(cpu.bench), store: tenths(cpu.store) },
    ...bytes,
  };
  console.log(JSON.stringify(result));
} finally {
  await store.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
