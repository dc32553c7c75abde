/**
 * The historical backfill, a small DAG: discover tags (the caller) → plan units (plan.ts,
 * skipping those recorded as done) → fetch them on the pool (pool.ts) → finalize: a report,
 * the run record, and watermarks for the tags whose units all succeeded. A unit is durable once
 * the sink has committed it; killed at any moment, a rerun redoes only the units not recorded,
 * and the sink's exactly-once writes make the redo harmless.
 */
import { NO_ASSETS, resolveAssets, summaryMetadata } from "./assets.ts";
import type { PipelineContext, RunReport } from "./context.ts";
import { emptyReport, parts } from "./context.ts";
import { withLock } from "./lock.ts";
import { chunkTags, planUnits } from "./plan.ts";
import type { PipelineState } from "./plugin.ts";
import { runUnits } from "./pool.ts";
import { resolveTimeRef, siteOf } from "./spec/schema.ts";
import { formatTicks, TICKS_PER_MS, ticksFromDate } from "./types.ts";
import type { TagInfo, Ticks } from "./types.ts";
import { advancedMarks } from "./watermarks.ts";

/** Backfills `tags` over [from, to] and advances their watermarks where every unit succeeded. */
export async function backfill(
  ctx: PipelineContext,
  tags: TagInfo[],
  from: Ticks,
  to: Ticks,
  state: PipelineState,
): Promise<RunReport> {
  // One backfill at a time across engine instances (the cache is shared when it is Redis).
  const report = await withLock(
    ctx.engine.cache,
    `${ctx.spec.name}:backfill-lock`,
    () => backfillLocked(ctx, tags, from, to, state),
  );
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
  const { sink } = parts(ctx);
  // The asset dimension, refreshed from discovery: a rule edited since the last start re-labels
  // every tag, and derived tables that join it find the tags before their readings arrive.
  // The summaries' tag metadata (interpolation, integral divisor) travels with the same rows.
  const { assets, summaries } = ctx.spec;
  if ((assets || summaries) && tags.length > 0) {
    const rows = resolveAssets(assets ?? NO_ASSETS, tags, siteOf(ctx.spec));
    if (summaries) rows.forEach((r, i) => Object.assign(r, summaryMetadata(summaries, tags[i]!)));
    await sink.setAssets(rows);
    ctx.health.assetsAt = new Date();
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
    const failedTags = new Set(
      units.filter((u) => failed.has(u.id)).flatMap((u) => u.tags.map((t) => t.name)),
    );
    const marks = advancedMarks(tags.map((t) => t.name), failedTags, state.watermarks, to);
    await saveMarks(ctx, state, marks);
  }
  // Failed units at warn: a rerun picks them up, but someone should know.
  ctx.log[report.failed.length ? "warn" : "info"]("backfill finished", {
    rows_read: report.rowsRead,
    rows_stored: report.rows,
    already_stored: report.skippedRows,
    units_done: report.done,
    units_skipped: report.skipped,
    units_failed: report.failed.length,
    stopped: ctx.signal.aborted || undefined,
    seconds: Math.round(report.seconds * 10) / 10,
    rows_per_s: report.rowsPerSecond,
    stored_per_s: report.storedPerSecond,
  });
  return report;
}

/** Saves new watermarks durably, then moves the in-memory state to them. */
export async function saveMarks(
  ctx: PipelineContext,
  state: PipelineState,
  marks: Map<string, Ticks>,
) {
  if (marks.size === 0) return;
  await parts(ctx).state.saveWatermarks(marks);
  for (const [tag, t] of marks) state.watermarks.set(tag, t);
}

/** The spec's backfill range for a historian clock reading `now`, ending `safety_lag` behind it. */
export function backfillRange(spec: PipelineContext["spec"], now: Date): [Ticks, Ticks] {
  const lag = BigInt(spec.sync.safety_lag) * TICKS_PER_MS;
  const to = resolveTimeRef(spec.backfill.to, now);
  const latest = ticksFromDate(now) - lag;
  return [resolveTimeRef(spec.backfill.from, now), to < latest ? to : latest];
}
