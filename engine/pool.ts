/**
 * The worker pool: units run on a bounded number of workers, each streaming from the source
 * into the sink and committing the unit. A unit whose read fails is read again (with backoff)
 * up to `retry.unit_attempts` times; a unit whose store call failed has already used the
 * store's budget in guard.ts and fails at once, without reading the source again. Failed units
 * are reported, never fatal: a rerun picks them up.
 */
import type { PipelineContext, RunReport } from "./context.ts";
import { emptyReport, parts } from "./context.ts";
import { PluginError } from "./errors.ts";
import { noteError, noteRows } from "./health.ts";
import type { Health } from "./health.ts";
import { errorText } from "./log.ts";
import type { Unit } from "./plan.ts";
import { logProgress } from "./progress.ts";
import type { Progress } from "./progress.ts";
import { retry } from "./retry.ts";
import type { WriteOptions } from "./plugin.ts";

/** A store call that failed after its whole retry budget: not worth re-reading the source. */
class StoreFailure extends Error {
  constructor(cause: unknown) {
    super(errorText(cause), { cause });
    this.name = "StoreFailure";
  }
}

async function store<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new StoreFailure(e);
  }
}

/** Numbers unit attempts in this process, so each has its own key in the sink. */
let attempts = 0;

/** Streams one unit from the source into the sink and commits it; rows written and skipped. */
async function fetchUnit(
  ctx: PipelineContext,
  unit: Unit,
  options: RunOptions,
): Promise<[number, number]> {
  const { source, sink } = parts(ctx);
  let written = 0;
  let skipped = 0;
  const names = unit.tags.map((t) => t.name);
  const window = { from: unit.from, to: unit.to };
  // A backfill unit whose range holds nothing yet needs no comparison with stored rows; asked
  // at each attempt, so a redo after a crash or a failed read compares again.
  // Each attempt is its own: what the sink holds of a failed one is released, never committed.
  const attempt = `${unit.id}#${++attempts}`;
  const write: WriteOptions = {
    ...options.write,
    unit: attempt,
    holdBytes: holdBytes(ctx.spec.chunking),
    ...(options.record && sink.counts &&
      { fresh: (await store(() => sink.counts!.count(names, window))).size === 0 }),
  };
  try {
    const reads = source.read(unit.tags, { from: unit.from, to: unit.to }, {
      signal: ctx.signal,
      batchSize: batchRows(ctx.spec.chunking),
    });
    for await (const batch of reads) {
      const r = await store(() => sink.write(batch, write));
      written += r.written;
      skipped += r.skipped;
    }
    await store(() =>
      sink.commit({
        id: options.record ? unit.id : undefined,
        unit: attempt,
        tags: names,
        window,
        rows: written,
        readings: written + skipped,
      })
    );
  } catch (e) {
    sink.release?.(attempt);
    throw e;
  }
  return [written, skipped];
}

export interface RunOptions {
  /** Units already done: counted, not run. */
  skip?: Set<string>;
  /** Record each unit as done at commit (backfill). */
  record: boolean;
  /** How batches are written (repairs). */
  write?: WriteOptions;
}

/** Runs `fn` over `items` with at most `limit` at a time, starting none after `signal` aborts. */
export async function eachBounded<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal.aborted) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, Math.max(items.length, 1)) }, worker));
}

export async function runUnits(
  ctx: PipelineContext,
  kind: RunReport["kind"],
  units: Unit[],
  options: RunOptions,
): Promise<RunReport> {
  const started = ctx.clock.now();
  const t0 = performance.now();
  const todo = units.filter((u) => !options.skip?.has(u.id));
  const report: RunReport = {
    ...emptyReport(kind),
    units: units.length,
    skipped: units.length - todo.length,
  };
  const backfill: Health["backfill"] = kind === "backfill"
    ? {
      units: units.length,
      done: report.skipped,
      failed: 0,
      rows: 0,
      running: true,
      started,
      skipped: report.skipped,
    }
    : undefined;
  if (backfill) ctx.health.backfill = backfill;
  const reporter = kind === "backfill" ? ctx.progress ?? logProgress(ctx.log) : undefined;
  const progress = (): Progress => {
    const seconds = (performance.now() - t0) / 1000;
    const left = todo.length - report.done - report.failed.length;
    return {
      kind,
      units: units.length,
      done: report.done + report.skipped,
      failed: report.failed.length,
      rows: report.rows,
      seconds,
      rowsPerSecond: Math.round(report.rows / Math.max(seconds, 0.001)),
      etaSeconds: report.done > 0 ? Math.round(seconds / report.done * left) : undefined,
    };
  };
  let lastUpdate = performance.now();
  const runOne = async (unit: Unit) => {
    try {
      const [rows, skippedRows] = await retry(() => fetchUnit(ctx, unit, options), {
        attempts: ctx.spec.retry.unit_attempts,
        baseMs: ctx.spec.retry.base_delay,
        maxMs: ctx.spec.retry.max_delay,
        clock: ctx.clock,
        signal: ctx.signal,
        isRetriable: (e) =>
          !(e instanceof StoreFailure) && (!(e instanceof PluginError) || e.retriable),
        onRetry: (e, attempt, delayMs) => {
          noteError(ctx.health, kind, e);
          ctx.log.warn(`${kind} unit failed; retrying: reading it again`, {
            unit: unit.id,
            attempt,
            delay_ms: delayMs,
            error: errorText(e),
          });
        },
      });
      report.done++;
      report.rows += rows;
      noteRows(ctx.health, rows, ctx.clock.now().getTime());
      report.skippedRows += skippedRows;
      if (backfill) (backfill.done++, backfill.rows += rows);
    } catch (e) {
      if (ctx.signal.aborted) return;
      noteError(ctx.health, kind, e);
      report.failed.push({ unit: unit.id, error: errorText(e) });
      if (backfill) backfill.failed++;
      ctx.log.error(`${kind} unit failed for good; continuing with the others`, {
        unit: unit.id,
        error: errorText(e),
      });
    }
  };
  await eachBounded(todo, ctx.spec.chunking.parallelism, ctx.signal, async (unit) => {
    await runOne(unit);
    if (reporter && performance.now() - lastUpdate > reporter.intervalMs) {
      lastUpdate = performance.now();
      reporter.update(progress());
    }
  });
  reporter?.finish(progress());
  report.seconds = (performance.now() - t0) / 1000;
  report.rowsPerSecond = Math.round(report.rows / Math.max(report.seconds, 0.001));
  if (backfill) backfill.running = false;
  await parts(ctx).state.saveRun({
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

/** What a reading costs in the engine's memory, about: the object, its time, shared fields. */
export const READING_BYTES = 200;

/**
 * Readings per batch: `batch_rows` when the spec sets it, else what fits half of `memory` with
 * three batches per worker (one the source fills, one queued ahead, one the sink writes).
 */
export function batchRows(
  chunking: { memory: number; parallelism: number; batch_rows?: number },
): number {
  if (chunking.batch_rows !== undefined) return chunking.batch_rows;
  const rows = Math.floor(chunking.memory / (2 * chunking.parallelism * 3 * READING_BYTES));
  return Math.min(200_000, Math.max(500, rows));
}

/**
 * The other half of `memory`: what the sink may hold per worker of rows it has encoded, so it
 * stores them in fewer, larger writes (about 65 bytes a reading in ClickHouse's RowBinary).
 */
export function holdBytes(chunking: { memory: number; parallelism: number }): number {
  return Math.floor(chunking.memory / (2 * chunking.parallelism));
}
