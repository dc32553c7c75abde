/**
 * Proof that nothing is missing: per tag and window (a day by default, on the UTC grid), the
 * number of readings the historian holds against the number stored (deduplicated). Counting
 * runs on the same units and the same bounded parallelism as a backfill, so it loads the
 * historian no more than one. `repair` re-reads exactly the windows that differ.
 */
import type { PipelineContext, RunReport } from "./context.ts";
import { parts } from "./context.ts";
import { chunkTags, planUnits } from "./plan.ts";
import type { Unit } from "./plan.ts";
import { eachBounded, runUnits } from "./pool.ts";
import { etaSeconds, logProgress, startTicker } from "./progress.ts";
import type { Progress } from "./progress.ts";
import type { TagInfo, Ticks } from "./types.ts";

export interface WindowCount {
  tag: string;
  /** Exclusive start. */
  from: Ticks;
  /** Inclusive end. */
  to: Ticks;
  historian: number;
  stored: number;
}

export interface VerifyReport {
  tags: number;
  /** (tag, window) pairs compared. */
  compared: number;
  differ: WindowCount[];
  historian: number;
  stored: number;
  seconds: number;
}

/** What verify needs and a plugin may lack, said plainly. */
export function verifyProblem(ctx: PipelineContext): string | undefined {
  const { source, sink } = ctx.engine;
  if (!source?.count) return `the ${ctx.spec.source.plugin} source cannot count readings`;
  if (!sink?.counts) return `the ${ctx.spec.sink.plugin} sink cannot count stored readings`;
  return undefined;
}

export async function verify(
  ctx: PipelineContext,
  tags: TagInfo[],
  from: Ticks,
  to: Ticks,
  windowMs: number,
): Promise<VerifyReport> {
  const started = ctx.clock.now().getTime();
  const { source, sink } = parts(ctx);
  const units = await planUnits(
    chunkTags(tags, ctx.spec.chunking.tags_per_query),
    from,
    to,
    windowMs,
  );
  const report: VerifyReport = {
    tags: tags.length,
    compared: 0,
    differ: [],
    historian: 0,
    stored: 0,
    seconds: 0,
  };
  let done = 0;
  const progress = (): Progress => {
    const seconds = Math.max(0, (ctx.clock.now().getTime() - started) / 1000);
    return {
      kind: "verify",
      units: units.length,
      done,
      failed: 0,
      running: 0,
      rowsInFlight: 0,
      rowsRead: report.historian,
      rowsStored: report.stored,
      alreadyStored: 0,
      seconds,
      rowsPerSecond: 0,
      storedPerSecond: 0,
      etaSeconds: etaSeconds(seconds, units.length ? done / units.length : 0),
      differ: report.differ.length,
    };
  };
  // Counting a year of a plant takes a while: say how far it has come.
  const reporter = ctx.progress ?? logProgress(ctx.log);
  const stopTicker = startTicker(ctx.clock, reporter.intervalMs, () => reporter.update(progress()));
  ctx.health.current = progress;
  try {
    await countUnits();
  } finally {
    stopTicker();
    ctx.health.current = undefined;
  }
  reporter.finish(progress());
  report.differ.sort((a, b) =>
    a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.from < b.from ? -1 : a.from > b.from ? 1 : 0
  );
  report.seconds = (ctx.clock.now().getTime() - started) / 1000;
  return report;

  async function countUnits() {
    await eachBounded(units, ctx.spec.chunking.parallelism, ctx.signal, async (unit) => {
      const window = { from: unit.from, to: unit.to };
      const names = unit.tags.map((t) => t.name);
      const [held, stored] = await Promise.all([
        source.count!(unit.tags, window, ctx.signal),
        sink.counts!.count(names, window),
      ]);
      for (const tag of names) {
        const h = held.get(tag) ?? 0;
        const s = stored.get(tag) ?? 0;
        report.compared++;
        report.historian += h;
        report.stored += s;
        if (h !== s) {
          report.differ.push({ tag, from: unit.from, to: unit.to, historian: h, stored: s });
        }
      }
      done++;
    });
  }
}

/** Re-reads the windows that differ (the tags of one window together) and writes what is missing. */
export async function repair(
  ctx: PipelineContext,
  tags: TagInfo[],
  differ: WindowCount[],
): Promise<RunReport> {
  const byName = new Map(tags.map((t) => [t.name, t]));
  const windows = new Map<string, Unit>();
  for (const d of differ) {
    const id = `repair:${d.from}/${d.to}`;
    const unit = windows.get(id) ?? { id, tags: [], from: d.from, to: d.to };
    const tag = byName.get(d.tag);
    if (tag) unit.tags.push(tag);
    windows.set(id, unit);
  }
  const units = [...windows.values()].flatMap((u) =>
    chunkTags(u.tags, ctx.spec.chunking.tags_per_query).map((chunk, i) => ({
      ...u,
      id: `${u.id}#${i}`,
      tags: chunk,
    }))
  );
  return await runUnits(ctx, "backfill", units, {
    record: false,
    write: { repair: true },
  });
}
