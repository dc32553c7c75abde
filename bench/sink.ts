/**
 * bench:sink — History rows through the ClickHouse sink into the embedded store, the way the
 * backfill writes them: per unit (a chunk of tags over a window) the count that tells a range
 * never written, then a sink.write() (RowBinary insert with its deduplication token; with
 * `--check`, the comparison with stored rows a re-read does) and the aggregate recompute.
 *
 *   deno task bench:sink [--rows 5000000] [--tags 200] [--batch 100000] [--check]
 *
 * Prints progress, then as its last line JSON with rows, rows_per_s, peak RSS (this process,
 * and the embedded store's process) and cpu_s: the CPU seconds of both (the store's include its
 * background merges), a steadier measure than the rate on a shared machine.
 */
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Reading } from "../engine/types.ts";
import { parseTicks } from "../engine/types.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import { preparedSink } from "./_sink.ts";
import { cpuSeconds, flag, peakRssMb, tenths } from "./_util.ts";

const ROWS = flag("rows", 5_000_000);
const TAGS = flag("tags", 200);
const BATCH = flag("batch", 100_000);
const CHECK = Deno.args.includes("--check");

const dir = await Deno.makeTempDir({ prefix: "bench-sink-" });
const log = createLogger({ level: "warn" });
const store = await startEmbedded({ port: 0, path: dir, log, clock: systemClock });
try {
  const { sink } = await preparedSink(store, log, dir);

  const tags = Array.from({ length: TAGS }, (_, i) => `Hamburg.L${i % 4}.Machine${i}.Sensor`);
  const perTag = Math.ceil(ROWS / TAGS);
  const t0 = parseTicks("2026-10-01T00:00:00Z");
  const fields = { wwRetrievalMode: "FULL", wwVersion: "LATEST", wwTimeZone: "UTC" };
  // Like the backfill: a chunk of tags over a time window per batch.
  const tagsPerBatch = Math.max(1, Math.min(TAGS, Math.floor(BATCH / Math.min(perTag, BATCH))));
  const secondsPerBatch = Math.ceil(BATCH / tagsPerBatch);
  let written = 0;
  const started = performance.now();
  let lastReport = started;
  for (let tagStart = 0; tagStart < TAGS && written < ROWS; tagStart += tagsPerBatch) {
    const chunk = tags.slice(tagStart, tagStart + tagsPerBatch);
    for (let s = 0; s < perTag && written < ROWS; s += secondsPerBatch) {
      const readings: Reading[] = [];
      for (let i = s; i < Math.min(perTag, s + secondsPerBatch); i++) {
        for (const [k, tag] of chunk.entries()) {
          readings.push({
            tag,
            time: t0 + BigInt(i) * 10_000_000n + BigInt(k),
            value: Math.sin(i / 60 + k) * 50 + 50,
            text: null,
            quality: "good",
            qualityCode: 0,
            fields: { QualityDetail: 192, OPCQuality: 192 },
          });
        }
      }
      const window = { from: readings[0]!.time - 1n, to: readings.at(-1)!.time };
      const fresh = !CHECK && (await sink.counts!.count(chunk, window)).size === 0;
      written += (await sink.write({ readings, fields }, { fresh })).written;
      // The same aggregate work per batch as a backfill unit's commit.
      await sink.commit({
        tags: chunk,
        window,
        rows: readings.length,
        readings: readings.length,
      });
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        const rate = written / ((lastReport - started) / 1000);
        console.log(
          `${written} rows, ${Math.round(rate)} rows/s, rss ${
            Math.round(Deno.memoryUsage().rss / 1e6)
          } MB`,
        );
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = { bench: cpuSeconds(), store: cpuSeconds(store.pid() ?? "self") };
  const [stored] = await sink.queries!.query<{ n: number }>(
    "SELECT count() AS n FROM WonderwareHistory",
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
  };
  console.log(JSON.stringify(result));
} finally {
  await store.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
