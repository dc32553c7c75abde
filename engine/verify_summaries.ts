/**
 * Proof that the stored summaries are the historian's: per tag chunk, window (a day by default,
 * on the UTC grid) and resolution (1 minute, 1 hour, 1 day), the historian's own
 * AnalogSummaryHistory and StateSummaryHistory rows (the source's `summaries` capability) against
 * the stored ones (the sink's query capability), column by column (summary_diff.ts).
 *
 * Only cycles the store can know completely are compared: those inside [from, to] that end at or
 * before the tag's watermark, and, for analog tags, at or before its last valued point up to
 * there (a linear segment past it runs toward a point the store has not read yet). Comparing
 * runs on the backfill's chunking and parallelism, so it loads the historian no more than a
 * backfill.
 */
import type { PipelineContext } from "./context.ts";
import { parts } from "./context.ts";
import { chunkTags } from "./plan.ts";
import { eachBounded } from "./pool.ts";
import { compareSummaries, DEFAULT_TOLERANCE } from "./summary_diff.ts";
import type { SummaryDifference } from "./summary_diff.ts";
import { sqlSummaryStore } from "./summary_store.ts";
import type { SummaryStore, SummaryTables } from "./summary_store.ts";
import { siteOf } from "./spec/schema.ts";
import { siteColumnOf } from "./spec/storage.ts";
import { TICKS_PER_MS } from "./types.ts";
import type { Summaries, TagInfo, Ticks } from "./types.ts";

/** The cycles compared when neither the options nor the spec say: 1 minute, 1 hour, 1 day. */
export const SUMMARY_RESOLUTIONS = [60_000, 3_600_000, 86_400_000];

export interface SummaryReport {
  tags: number;
  /** Rows compared (tag, cycle, and state for StateSummaryHistory), per resolution in ms. */
  compared: Map<number, number>;
  differ: SummaryDifference[];
  tolerance: number;
  seconds: number;
}

export interface SummaryOptions {
  windowMs: number;
  tolerance?: number;
  /** The cycles compared, in ms (default: the spec's `summaries.cycles`). */
  resolutions?: number[];
  /** Where the stored summaries are read (default: the sink's query capability). */
  store?: SummaryStore;
}

/** What `verify --summaries` needs and a spec or plugin may lack, said plainly. */
export function summariesProblem(ctx: PipelineContext): string | undefined {
  const { source } = ctx.engine;
  if (!ctx.spec.summaries) return `the spec ${ctx.spec.name} keeps no summaries (no summaries:)`;
  if (!source?.summaries) {
    return `the ${ctx.spec.source.plugin} source cannot compute the historian's summaries`;
  }
  if (!ctx.engine.queries) return `the ${ctx.spec.sink.plugin} sink cannot be queried`;
  return undefined;
}

/** The spec's summary views, and this site's rows where sites share them. */
function summaryTables(ctx: PipelineContext): SummaryTables {
  const s = ctx.spec.summaries!;
  const from = ctx.spec.tables[s.from];
  const column = from ? siteColumnOf(from) : undefined;
  return {
    analog: s.analog_table,
    state: s.state_table,
    site: column ? { column, value: siteOf(ctx.spec) } : undefined,
  };
}

/** The windows [a, b) of `windowMs` on the UTC grid covering [from, to], cut at both ends. */
function windows(from: Ticks, to: Ticks, windowMs: number): [Ticks, Ticks][] {
  const w = BigInt(windowMs) * TICKS_PER_MS;
  const out: [Ticks, Ticks][] = [];
  for (let d = (from / w) * w; d < to; d += w) {
    out.push([d > from ? d : from, d + w < to ? d + w : to]);
  }
  return out;
}

/**
 * Per analog tag, the time of its last valued point at or before its limit, from the historian's
 * 1-minute summaries of the minute before the limit (its LastDateTime, which falls back to the
 * point in effect) and the minute from it (its FirstDateTime, when that is not after the limit).
 * Cycles after it are not compared: a linear segment from it may run toward a point beyond the
 * limit, which the store has not read yet.
 */
async function lastValuedPoints(
  ctx: PipelineContext,
  tags: TagInfo[],
  limits: ReadonlyMap<string, Ticks>,
): Promise<Map<string, Ticks>> {
  const minute = 60_000n * TICKS_PER_MS;
  const byMinute = new Map<Ticks, TagInfo[]>();
  for (const tag of tags) {
    const m = (limits.get(tag.name)! / minute) * minute;
    byMinute.set(m, [...byMinute.get(m) ?? [], tag]);
  }
  const out = new Map<string, Ticks>();
  for (const [m, group] of byMinute) {
    for (const chunk of chunkTags(group, ctx.spec.chunking.tags_per_query)) {
      const { analog } = await parts(ctx).source.summaries!(
        chunk,
        { from: m - minute, to: m + minute },
        60_000,
        ctx.signal,
      );
      for (const tag of chunk) {
        const limit = limits.get(tag.name)!;
        const rows = analog.filter((r) => r.TagName === tag.name);
        const next = rows.find((r) => r.StartDateTime === m)?.FirstDateTime;
        const before = rows.find((r) => r.StartDateTime === m - minute)?.LastDateTime;
        const last = next !== null && next !== undefined && next >= m && next <= limit
          ? next
          : before;
        if (last !== null && last !== undefined) out.set(tag.name, last);
      }
    }
  }
  return out;
}

export async function verifySummaries(
  ctx: PipelineContext,
  tags: TagInfo[],
  from: Ticks,
  to: Ticks,
  options: SummaryOptions,
): Promise<SummaryReport> {
  const t0 = performance.now();
  const { source, state } = parts(ctx);
  const store = options.store ?? sqlSummaryStore(ctx.engine.queries!, summaryTables(ctx));
  const resolutions = options.resolutions ??
    ctx.spec.summaries?.cycles.map((c) => c.every) ?? SUMMARY_RESOLUTIONS;
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const report: SummaryReport = {
    tags: tags.length,
    compared: new Map(),
    differ: [],
    tolerance,
    seconds: 0,
  };
  const { watermarks } = await state.load();
  const limits = new Map(tags.map((t) => {
    const mark = watermarks.get(t.name);
    return [t.name, mark !== undefined && mark < to ? mark : to] as const;
  }));
  const lastPoints = await lastValuedPoints(
    ctx,
    tags.filter((t) => t.type === "analog"),
    limits,
  );
  const until = (tag: TagInfo) => lastPoints.get(tag.name) ?? limits.get(tag.name)!;

  const jobs: { tags: TagInfo[]; from: Ticks; to: Ticks; resolution: number }[] = [];
  for (const chunk of chunkTags(tags, ctx.spec.chunking.tags_per_query)) {
    for (const [a, b] of windows(from, to, options.windowMs)) {
      for (const resolution of resolutions) {
        const r = BigInt(resolution) * TICKS_PER_MS;
        const first = ((a + r - 1n) / r) * r;
        const last = (b / r) * r;
        if (last - first >= r) jobs.push({ tags: chunk, from: first, to: last, resolution });
      }
    }
  }
  await eachBounded(jobs, ctx.spec.chunking.parallelism, ctx.signal, async (job) => {
    const window = { from: job.from, to: job.to };
    const [historian, stored] = await Promise.all([
      source.summaries!(job.tags, window, job.resolution, ctx.signal),
      store.rows(job.tags.map((t) => t.name), window, job.resolution),
    ]);
    const ends = new Map(job.tags.map((t) => [t.name, until(t)]));
    const known = (s: Summaries): Summaries => ({
      analog: s.analog.filter((r) => r.EndDateTime <= (ends.get(r.TagName) ?? -1n)),
      state: s.state.filter((r) => r.EndDateTime <= (ends.get(r.TagName) ?? -1n)),
    });
    const h = known(historian);
    const differ = compareSummaries(h, known(stored), job.resolution, tolerance);
    const n = report.compared.get(job.resolution) ?? 0;
    report.compared.set(job.resolution, n + h.analog.length + h.state.length);
    report.differ.push(...differ);
  });
  report.differ.sort((x, y) =>
    x.tag < y.tag ? -1 : x.tag > y.tag ? 1 : x.resolutionMs - y.resolutionMs ||
      (x.start < y.start ? -1 : x.start > y.start ? 1 : 0)
  );
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
