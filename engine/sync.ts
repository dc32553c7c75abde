/**
 * The incremental sync and its scheduler. A sync reads, per chunk of tags, from the oldest
 * watermark (minus the late-data window on the runs that re-read it) up to the historian's
 * clock minus the safety lag, so late (store-and-forward) points behind the watermark are
 * re-read and stored if new. New tags are backfilled before they join. Runs never overlap: a
 * lock in the cache (Redis when configured, so across engine instances). A sync that could not
 * run — the lock's cache down, the historian unreachable — is a failed sync in the health.
 */
import { backfill, backfillRange, saveMarks } from "./backfill.ts";
import type { PipelineContext, RunReport } from "./context.ts";
import { parts } from "./context.ts";
import { noteError } from "./health.ts";
import { withLock } from "./lock.ts";
import { errorText } from "./log.ts";
import { chunkTags, planUnits } from "./plan.ts";
import type { Unit } from "./plan.ts";
import type { PipelineState } from "./plugin.ts";
import { runUnits } from "./pool.ts";
import { resolveTimeRef } from "./spec/schema.ts";
import { dateFromTicks, formatTicks, TICKS_PER_MS } from "./types.ts";
import type { TagInfo } from "./types.ts";
import { advancedMarks, syncStart } from "./watermarks.ts";

/**
 * The tag list, from the cache while it is fresh, else discovered and cached. The health keeps
 * its names: a tag the source no longer gives (a narrowed filter) leaves the freshness view.
 */
export async function tagList(ctx: PipelineContext): Promise<TagInfo[]> {
  const tags = await cachedTagList(ctx);
  ctx.health.tags = new Set(tags.map((t) => t.name));
  return tags;
}

async function cachedTagList(ctx: PipelineContext): Promise<TagInfo[]> {
  const key = `${ctx.spec.name}:tags`;
  const cached = await ctx.engine.cache.get(key).catch(() => undefined);
  if (cached) return JSON.parse(cached) as TagInfo[];
  const tags = await parts(ctx).source.discover(ctx.signal);
  await ctx.engine.cache.set(key, JSON.stringify(tags), ctx.spec.sync.tag_list_ttl).catch((e) =>
    ctx.log.warn("could not cache the tag list", { error: errorText(e) })
  );
  return tags;
}

/**
 * One sync run under the lock. Returns undefined when another run (here or in another
 * instance) holds the lock. A failure is recorded in the health, then thrown.
 */
export async function syncOnce(
  ctx: PipelineContext,
  state: PipelineState,
): Promise<RunReport | undefined> {
  let report: RunReport | undefined;
  try {
    report = await withLock(
      ctx.engine.cache,
      `${ctx.spec.name}:sync-lock`,
      () => syncLocked(ctx, state),
    );
  } catch (e) {
    noteError(ctx.health, "sync", e);
    ctx.health.lastSync = {
      at: ctx.clock.now(),
      rows: 0,
      ok: false,
      upper: "",
      error: errorText(e),
    };
    throw e;
  }
  if (!report) ctx.log.info("sync skipped: another sync holds the lock");
  return report;
}

async function syncLocked(ctx: PipelineContext, state: PipelineState): Promise<RunReport> {
  const { spec } = ctx;
  const { source } = parts(ctx);
  const tags = await tagList(ctx);
  const upper = (await source.serverTime()) - BigInt(spec.sync.safety_lag) * TICKS_PER_MS;
  const fresh = tags.filter((t) => !state.watermarks.has(t.name));
  if (fresh.length > 0) {
    ctx.log.info("new tags: backfilling them before they join the sync", { tags: fresh.length });
    const from = resolveTimeRef(spec.backfill.from, ctx.clock.now());
    await backfill(ctx, fresh, from, upper, state);
  }
  const run = ctx.syncs ?? 0;
  ctx.syncs = run + 1;
  const rangeStart = resolveTimeRef(spec.backfill.from, dateFromTicks(upper)) - 1n;
  const late = run % spec.sync.late_data_every === 0
    ? BigInt(spec.sync.late_data_window) * TICKS_PER_MS
    : 0n;
  const known = tags.filter((t) => state.watermarks.has(t.name));
  const units: Unit[] = [];
  for (const chunk of chunkTags(known, spec.chunking.tags_per_query)) {
    const marks = chunk.map((t) => state.watermarks.get(t.name)!);
    const from = syncStart(marks, upper, late, rangeStart);
    if (from >= upper) continue;
    units.push(...await planUnits([chunk], from + 1n, upper, spec.chunking.window));
  }
  const report = await runUnits(ctx, "sync", units, { record: false });
  if (!ctx.signal.aborted) {
    const failed = new Set(report.failed.map((f) => f.unit));
    const failedTags = new Set(
      units.filter((u) => failed.has(u.id)).flatMap((u) => u.tags.map((t) => t.name)),
    );
    const marks = advancedMarks(tags.map((t) => t.name), failedTags, state.watermarks, upper, {
      onlyKnown: true,
    });
    await saveMarks(ctx, state, marks);
  }
  const at = ctx.clock.now();
  const ok = report.failed.length === 0;
  ctx.health.lastSync = {
    at,
    rows: report.rows,
    ok,
    upper: formatTicks(upper),
    error: report.failed[0]?.error,
    seconds: report.seconds,
  };
  if (ok) ctx.health.lastSuccess = at;
  ctx.health.syncRows = (ctx.health.syncRows ?? 0) + report.rows;
  ctx.log[ok ? "info" : "warn"]("sync finished", {
    rows_read: report.rowsRead,
    rows_stored: report.rows,
    already_stored: report.skippedRows,
    units: report.units,
    failed: report.failed.length,
    upper: formatTicks(upper),
  });
  return report;
}

/**
 * `run`: the spec's backfill, then syncs on its schedule (an interval, or cron in UTC) until
 * the context's signal aborts. A failed sync is logged and recorded; the next one catches up.
 */
export async function backfillThenSync(ctx: PipelineContext): Promise<void> {
  const { spec, log } = ctx;
  const { source, state: store } = parts(ctx);
  const state = await store.load();
  const now = dateFromTicks(await source.serverTime());
  const tags = await tagList(ctx);
  const [from, to] = backfillRange(spec, now);
  await backfill(ctx, tags, from, to, state);
  if (ctx.signal.aborted) return;
  const once = async () => {
    if (ctx.signal.aborted) return;
    try {
      await syncOnce(ctx, state);
    } catch (e) {
      if (!ctx.signal.aborted) {
        log.error("sync failed; the next run catches up", { error: errorText(e) });
      }
    }
  };
  if (spec.sync.interval) {
    log.info("syncing on an interval", { every_ms: spec.sync.interval });
    while (!ctx.signal.aborted) {
      const started = Date.now();
      await once();
      await ctx.clock.sleep(Math.max(0, spec.sync.interval - (Date.now() - started)), ctx.signal)
        .catch(() => {});
    }
    return;
  }
  log.info("syncing on a cron schedule (UTC)", { schedule: spec.sync.schedule });
  let running: Promise<void> = Promise.resolve();
  const stopped = new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve();
    ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  Deno.cron(`${spec.name}-sync`, spec.sync.schedule, { signal: ctx.signal }, () => {
    running = running.then(once);
    return running;
  });
  await stopped;
  await running;
}
