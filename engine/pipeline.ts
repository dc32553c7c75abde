/**
 * The engine's main job: the historical backfill and the incremental sync.
 *
 * Backfill is a small DAG: discover tags → plan work units (tag chunks × time windows on a
 * fixed UTC grid, skipping units the sink records as done) → fetch (a bounded pool of workers,
 * each streaming from the source into the sink) → finalize (a report, the run record, and
 * watermarks for the tags whose units all succeeded). A unit is durable once the sink has
 * stored its readings and recorded it; killed at any moment, a rerun redoes only the units not
 * recorded, and the sink's exactly-once writes make the redo harmless.
 *
 * Sync reads, per chunk of tags, from the oldest watermark minus the late-data window up to
 * the Historian's clock minus the safety lag, so late (store-and-forward) points behind the
 * watermark are re-read and stored if new. Runs never overlap: a lock in the cache (Redis when
 * configured, so across engine instances).
 */
import { resolveAssets } from "./assets.ts";
import type { Engine } from "./engine.ts";
import { errorText } from "./log.ts";
import type { Logger } from "./log.ts";
import type { Clock, PipelineState } from "./plugin.ts";
import { PluginError } from "./errors.ts";
import { retry } from "./retry.ts";
import { resolveTimeRef } from "./spec/schema.ts";
import type { Spec } from "./spec/schema.ts";
import { dateFromTicks, formatTicks, TICKS_PER_MS } from "./types.ts";
import type { TagInfo, Ticks } from "./types.ts";

export interface Unit {
  id: string;
  tags: TagInfo[];
  from: Ticks;
  to: Ticks;
}

export interface RunReport {
  kind: "backfill" | "sync";
  units: number;
  skipped: number;
  done: number;
  failed: { unit: string; error: string }[];
  rows: number;
  skippedRows: number;
  seconds: number;
  rowsPerSecond: number;
}

/** Progress and failures the status route and the logs report. */
export interface Health {
  backfill?: { units: number; done: number; failed: number; rows: number; running: boolean };
  lastSync?: { at: Date; rows: number; ok: boolean; upper: string };
  /** Readings stored by syncs since the start. */
  syncRows?: number;
  /** The pipeline's per-tag watermarks (the live map the pipeline updates). */
  watermarks?: Map<string, Ticks>;
  errors: { at: Date; kind: string; message: string }[];
}

export function createHealth(): Health {
  return { errors: [] };
}

function noteError(health: Health, kind: string, e: unknown) {
  health.errors.push({ at: new Date(), kind, message: errorText(e) });
  if (health.errors.length > 50) health.errors.shift();
}

export interface PipelineContext {
  engine: Engine;
  spec: Spec;
  log: Logger;
  clock: Clock;
  health: Health;
  signal: AbortSignal;
  /** Syncs run so far by this process (for late_data_every). */
  syncs?: number;
}

function emptyReport(kind: RunReport["kind"]): RunReport {
  return {
    kind,
    units: 0,
    skipped: 0,
    done: 0,
    failed: [],
    rows: 0,
    skippedRows: 0,
    seconds: 0,
    rowsPerSecond: 0,
  };
}

/**
 * Runs `fn` holding the pipeline's `name` lock in the cache (Redis makes it hold across engine
 * instances), kept alive while `fn` runs; undefined when someone else holds it.
 */
async function withLock<T>(
  ctx: PipelineContext,
  name: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const key = `${ctx.spec.name}:${name}-lock`;
  const token = crypto.randomUUID();
  const ttl = 120_000;
  if (!(await ctx.engine.cache.add(key, token, ttl))) return undefined;
  const keepAlive = setInterval(
    () => ctx.engine.cache.set(key, token, ttl).catch(() => {}),
    ttl / 3,
  );
  try {
    return await fn();
  } finally {
    clearInterval(keepAlive);
    await ctx.engine.cache.delete(key, token).catch(() => {});
  }
}

/** Tag chunks of the configured size, in name order, so chunk membership is stable. */
export function chunkTags(tags: readonly TagInfo[], size: number): TagInfo[][] {
  const sorted = [...tags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: TagInfo[][] = [];
  for (let i = 0; i < sorted.length; i += size) out.push(sorted.slice(i, i + size));
  return out;
}

async function chunkKey(tags: readonly TagInfo[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(tags.map((t) => t.name).join("\n")),
  );
  return Array.from(new Uint8Array(digest).slice(0, 6)).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Units covering [from, to]: windows on a grid of `windowMs` since the epoch, so a rerun with a
 * relative start finds the same full windows; the first starts one tick before `from` so a
 * point exactly at `from` is included (reads are `(from, to]`).
 */
export async function planUnits(
  chunks: TagInfo[][],
  from: Ticks,
  to: Ticks,
  windowMs: number,
): Promise<Unit[]> {
  const w = BigInt(windowMs) * TICKS_PER_MS;
  const units: Unit[] = [];
  for (const tags of chunks) {
    const key = await chunkKey(tags);
    let start = from - 1n;
    while (start < to) {
      const grid = (start / w + 1n) * w;
      const end = grid < to ? grid : to;
      units.push({
        id: `${key}:${formatTicks(start + 1n)}/${formatTicks(end)}`,
        tags,
        from: start,
        to: end,
      });
      start = end;
    }
  }
  return units;
}

/** Streams one unit from the source into the sink; returns rows written and skipped. */
async function fetchUnit(ctx: PipelineContext, unit: Unit): Promise<[number, number]> {
  const { source, sink } = ctx.engine;
  let written = 0;
  let skipped = 0;
  const reads = source!.read(unit.tags, { from: unit.from, to: unit.to }, {
    signal: ctx.signal,
    batchSize: ctx.spec.chunking.batch_rows,
  });
  // Aggregates are recomputed once per unit, after its last batch and before it is recorded.
  for await (const batch of reads) {
    const r = await sink!.write(batch, { deferAggregates: true });
    written += r.written;
    skipped += r.skipped;
  }
  // Also when every reading was already stored: an interrupted earlier attempt may have
  // stored them without getting to this point.
  if (written + skipped > 0) {
    await sink!.refreshAggregates(unit.tags.map((t) => t.name), unit.from + 1n, unit.to);
  }
  return [written, skipped];
}

/** Runs units on a bounded pool of workers, each unit retried with backoff; failures are recorded, not fatal. */
export async function runUnits(
  ctx: PipelineContext,
  kind: RunReport["kind"],
  units: Unit[],
  options: { skip?: Set<string>; record: boolean; attempts?: number },
): Promise<RunReport> {
  const started = ctx.clock.now();
  const t0 = performance.now();
  const todo = units.filter((u) => !options.skip?.has(u.id));
  const report: RunReport = {
    ...emptyReport(kind),
    units: units.length,
    skipped: units.length - todo.length,
  };
  if (kind === "backfill") {
    ctx.health.backfill = {
      units: units.length,
      done: report.skipped,
      failed: 0,
      rows: 0,
      running: true,
    };
  }
  let next = 0;
  let lastLog = performance.now();
  // A progress bar on a terminal (redrawn every second); a log line every 5 s otherwise.
  const tty = kind === "backfill" && Deno.stderr.isTerminal();
  const progress = () => {
    const seconds = (performance.now() - t0) / 1000;
    const rate = report.rows / Math.max(seconds, 0.001);
    const left = todo.length - report.done - report.failed.length;
    const eta = report.done > 0 ? Math.round(seconds / report.done * left) : undefined;
    const done = report.done + report.skipped;
    if (tty) {
      const width = 30;
      const filled = Math.round(width * done / Math.max(units.length, 1));
      const bar =
        `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${units.length} units, ` +
        `${report.rows} rows, ${Math.round(rate)} rows/s${
          eta !== undefined ? `, ETA ${eta} s` : ""
        }` +
        (report.failed.length ? `, ${report.failed.length} failed` : "");
      Deno.stderr.writeSync(new TextEncoder().encode(`\r${bar}\x1b[K`));
      return;
    }
    ctx.log.info(`${kind} progress`, {
      units_done: done,
      units: units.length,
      failed: report.failed.length,
      rows: report.rows,
      rows_per_s: Math.round(rate),
      eta_s: eta,
    });
  };
  const worker = async () => {
    while (next < todo.length && !ctx.signal.aborted) {
      const unit = todo[next++]!;
      try {
        const [rows, skippedRows] = await retry(() => fetchUnit(ctx, unit), {
          attempts: options.attempts ?? 6,
          baseMs: 500,
          maxMs: 30_000,
          clock: ctx.clock,
          signal: ctx.signal,
          isRetriable: (e) => !(e instanceof PluginError) || e.retriable,
          onRetry: (e, attempt, delayMs) => {
            noteError(ctx.health, kind, e);
            ctx.log.warn(`${kind} unit failed; retrying`, {
              unit: unit.id,
              attempt,
              delay_ms: delayMs,
              error: errorText(e),
            });
          },
        });
        if (options.record) await ctx.engine.sink!.saveUnitDone(unit.id, rows);
        report.done++;
        report.rows += rows;
        report.skippedRows += skippedRows;
        if (ctx.health.backfill && kind === "backfill") {
          ctx.health.backfill.done++;
          ctx.health.backfill.rows += rows;
        }
      } catch (e) {
        if (ctx.signal.aborted) return;
        noteError(ctx.health, kind, e);
        report.failed.push({ unit: unit.id, error: errorText(e) });
        if (ctx.health.backfill && kind === "backfill") ctx.health.backfill.failed++;
        ctx.log.error(`${kind} unit failed for good; continuing with the others`, {
          unit: unit.id,
          error: errorText(e),
        });
      }
      if (performance.now() - lastLog > (tty ? 1_000 : 5_000)) {
        lastLog = performance.now();
        progress();
      }
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.min(ctx.spec.chunking.parallelism, Math.max(todo.length, 1)) },
      worker,
    ),
  );
  if (tty && todo.length > 0) {
    progress();
    Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
  report.seconds = (performance.now() - t0) / 1000;
  report.rowsPerSecond = Math.round(report.rows / Math.max(report.seconds, 0.001));
  if (ctx.health.backfill && kind === "backfill") ctx.health.backfill.running = false;
  await ctx.engine.sink!.saveRun({
    id: crypto.randomUUID(),
    kind,
    started,
    finished: ctx.clock.now(),
    rows: report.rows,
    status: ctx.signal.aborted ? "partial" : report.failed.length ? "failed" : "ok",
    error: report.failed[0]?.error,
  }).catch((e) => ctx.log.warn("could not save the run record", { error: errorText(e) }));
  return report;
}

/** Saves new watermarks durably, then moves the in-memory state to them. */
async function advanceWatermarks(
  ctx: PipelineContext,
  state: PipelineState,
  marks: Map<string, Ticks>,
) {
  if (marks.size === 0) return;
  await ctx.engine.sink!.saveWatermarks(marks);
  for (const [tag, t] of marks) state.watermarks.set(tag, t);
}

/** Backfills `tags` over [from, to] and advances their watermarks where every unit succeeded. */
export async function backfill(
  ctx: PipelineContext,
  tags: TagInfo[],
  from: Ticks,
  to: Ticks,
  state: PipelineState,
): Promise<RunReport> {
  // One backfill at a time across engine instances (the cache is shared when it is Redis).
  const report = await withLock(ctx, "backfill", () => backfillLocked(ctx, tags, from, to, state));
  if (report) return report;
  ctx.log.info("backfill skipped: another engine instance is backfilling");
  return emptyReport("backfill");
}

async function backfillLocked(
  ctx: PipelineContext,
  tags: TagInfo[],
  from: Ticks,
  to: Ticks,
  state: PipelineState,
): Promise<RunReport> {
  // The asset model must know the tags before their readings arrive: derived tables join at insert.
  if (ctx.spec.assets && tags.length > 0) {
    await ctx.engine.sink!.setAssets(resolveAssets(ctx.spec.assets, tags));
  }
  ctx.health.watermarks = state.watermarks;
  const chunks = chunkTags(tags, ctx.spec.chunking.tags_per_query);
  const units = await planUnits(chunks, from, to, ctx.spec.chunking.window);
  ctx.log.info("backfill planned", {
    tags: tags.length,
    chunks: chunks.length,
    units: units.length,
    already_done: units.filter((u) => state.doneUnits.has(u.id)).length,
    from: formatTicks(from),
    to: formatTicks(to),
  });
  const report = await runUnits(ctx, "backfill", units, { skip: state.doneUnits, record: true });
  if (!ctx.signal.aborted) {
    const failed = new Set(report.failed.map((f) => f.unit));
    const marks = new Map<string, Ticks>();
    for (const chunk of chunks) {
      const ok = units.filter((u) => u.tags === chunk).every((u) => !failed.has(u.id));
      if (!ok) continue;
      for (const t of chunk) {
        const current = state.watermarks.get(t.name);
        if (current === undefined || current < to) marks.set(t.name, to);
      }
    }
    await advanceWatermarks(ctx, state, marks);
  }
  ctx.log.info("backfill finished", {
    rows: report.rows,
    units_done: report.done,
    units_skipped: report.skipped,
    units_failed: report.failed.length,
    seconds: Math.round(report.seconds * 10) / 10,
    rows_per_s: report.rowsPerSecond,
  });
  return report;
}

/** The tag list, from the cache while it is fresh, else discovered and cached. */
export async function tagList(ctx: PipelineContext): Promise<TagInfo[]> {
  const key = `${ctx.spec.name}:tags`;
  const cached = await ctx.engine.cache.get(key).catch(() => undefined);
  if (cached) return JSON.parse(cached) as TagInfo[];
  const tags = await ctx.engine.source!.discover(ctx.signal);
  await ctx.engine.cache.set(key, JSON.stringify(tags), ctx.spec.sync.tag_list_ttl).catch((e) =>
    ctx.log.warn("could not cache the tag list", { error: errorText(e) })
  );
  return tags;
}

/**
 * One sync run under the lock. Returns undefined when another run (here or in another
 * instance) holds the lock.
 */
export async function syncOnce(
  ctx: PipelineContext,
  state: PipelineState,
): Promise<RunReport | undefined> {
  const report = await withLock(ctx, "sync", () => syncLocked(ctx, state));
  if (!report) ctx.log.info("sync skipped: another sync holds the lock");
  return report;
}

async function syncLocked(ctx: PipelineContext, state: PipelineState): Promise<RunReport> {
  const { engine, spec } = ctx;
  try {
    const tags = await tagList(ctx);
    const upper = (await engine.source!.serverTime()) - BigInt(spec.sync.safety_lag) * TICKS_PER_MS;
    const fresh = tags.filter((t) => !state.watermarks.has(t.name));
    if (fresh.length > 0) {
      ctx.log.info("new tags: backfilling them before they join the sync", { tags: fresh.length });
      const from = resolveStart(spec, ctx.clock.now());
      await backfill(ctx, fresh, from, upper, state);
    }
    const run = ctx.syncs ?? 0;
    ctx.syncs = run + 1;
    const rangeStart = resolveStart(spec, dateFromTicks(upper)) - 1n;
    const late = run % spec.sync.late_data_every === 0
      ? BigInt(spec.sync.late_data_window) * TICKS_PER_MS
      : 0n;
    const units: Unit[] = [];
    for (
      const chunk of chunkTags(
        tags.filter((t) => state.watermarks.has(t.name)),
        spec.chunking.tags_per_query,
      )
    ) {
      const oldest = chunk.reduce(
        (m, t) => (state.watermarks.get(t.name)! < m ? state.watermarks.get(t.name)! : m),
        upper,
      );
      // The late-data re-read never reaches before the range the spec asks for.
      const from = oldest - late > rangeStart ? oldest - late : rangeStart;
      if (from >= upper) continue;
      units.push(...await planUnits([chunk], from + 1n, upper, spec.chunking.window));
    }
    const report = await runUnits(ctx, "sync", units, { record: false, attempts: 3 });
    if (!ctx.signal.aborted) {
      const failedTags = new Set(
        report.failed.flatMap((f) =>
          units.find((u) => u.id === f.unit)?.tags.map((t) => t.name) ?? []
        ),
      );
      const marks = new Map<string, Ticks>();
      for (const t of tags) {
        if (failedTags.has(t.name)) continue;
        const current = state.watermarks.get(t.name);
        if (current !== undefined && current < upper) marks.set(t.name, upper);
      }
      await advanceWatermarks(ctx, state, marks);
    }
    ctx.health.lastSync = {
      at: ctx.clock.now(),
      rows: report.rows,
      ok: report.failed.length === 0,
      upper: formatTicks(upper),
    };
    ctx.health.syncRows = (ctx.health.syncRows ?? 0) + report.rows;
    ctx.log.info("sync finished", {
      rows: report.rows,
      already_stored: report.skippedRows,
      units: report.units,
      failed: report.failed.length,
      upper: formatTicks(upper),
    });
    return report;
  } catch (e) {
    noteError(ctx.health, "sync", e);
    ctx.health.lastSync = { at: ctx.clock.now(), rows: 0, ok: false, upper: "" };
    throw e;
  }
}

/** Where a backfill starts, for a clock reading `now` (the Historian's, when it can be had). */
export function resolveStart(spec: Spec, now: Date): Ticks {
  return resolveTimeRef(spec.backfill.from, now);
}
