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
import { etaSeconds, logProgress, startTicker } from "./progress.ts";
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

/** A unit attempt in flight: what it has read so far, and how far into its window (0 to 1). */
interface Flight {
  read: number;
  stored: number;
  already: number;
  share: number;
}

/**
 * Streams one unit from the source into the sink and commits it; rows written and skipped.
 * When the run is stopped it stops at a batch boundary: the batch in hand is written, the
 * source is not waited for, nothing is committed, and what the sink holds is released, so a
 * rerun reads the unit again and nothing is lost.
 */
async function fetchUnit(
  ctx: PipelineContext,
  unit: Unit,
  options: RunOptions,
  flight: Flight,
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
  const span = Number(unit.to - unit.from) || 1;
  const reads = source.read(unit.tags, { from: unit.from, to: unit.to }, {
    signal: ctx.signal,
    batchSize: batchRows(ctx.spec.chunking),
  })[Symbol.asyncIterator]();
  let waiting = false;
  try {
    while (true) {
      waiting = true;
      const next = await unlessStopped(reads.next(), ctx.signal);
      waiting = false;
      if (next.done) break;
      const batch = next.value;
      const r = await store(() => sink.write(batch, write));
      written += r.written;
      skipped += r.skipped;
      flight.read += batch.readings.length;
      flight.stored += r.written;
      flight.already += r.skipped;
      const last = batch.readings.at(-1)?.time;
      if (last !== undefined) flight.share = Math.min(1, Number(last - unit.from) / span);
      if (ctx.signal.aborted) throw ctx.signal.reason;
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
    // A read still waiting for the source is left to end on its own (the source cancels it on
    // the signal); one paused at a batch is closed now.
    const closing = reads.return?.(undefined).catch(() => {});
    if (!waiting) await closing;
    throw e;
  }
  return [written, skipped];
}

/** `p`, or the signal's reason as soon as it aborts (then `p` is left to settle unheard). */
function unlessStopped<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
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

/**
 * Runs `units` on the pool: each is read and committed, retried on read failures, reported
 * when it fails for good. Progress (rows read, stored and already stored, rates, ETA) is told
 * every `intervalMs` of the clock while units run, and kept live in the health.
 */
export async function runUnits(
  ctx: PipelineContext,
  kind: RunReport["kind"],
  units: Unit[],
  options: RunOptions,
): Promise<RunReport> {
  const started = ctx.clock.now();
  const elapsed = () => Math.max(0, (ctx.clock.now().getTime() - started.getTime()) / 1000);
  const todo = units.filter((u) => !options.skip?.has(u.id));
  const report: RunReport = {
    ...emptyReport(kind),
    units: units.length,
    skipped: units.length - todo.length,
  };
  const flights = new Set<Flight>();
  const progress = (): Progress => {
    const seconds = elapsed();
    let [read, stored, already, share, inFlight] = [
      report.rowsRead,
      report.rows,
      report.skippedRows,
      0,
      0,
    ];
    for (const f of flights) {
      (inFlight += f.read, stored += f.stored, already += f.already, share += f.share);
    }
    read += inFlight;
    const finished = report.done + report.failed.length;
    return {
      kind,
      units: units.length,
      done: report.done + report.skipped,
      failed: report.failed.length,
      running: flights.size,
      rowsInFlight: inFlight,
      rowsRead: read,
      rowsStored: stored,
      alreadyStored: already,
      seconds,
      rowsPerSecond: perSecond(read, seconds),
      storedPerSecond: perSecond(stored, seconds),
      etaSeconds: etaSeconds(seconds, todo.length ? (finished + share) / todo.length : 0),
    };
  };
  const backfill: Health["backfill"] = kind === "backfill"
    ? {
      units: units.length,
      done: report.skipped,
      failed: 0,
      rows: 0,
      rowsRead: 0,
      alreadyStored: 0,
      running: true,
      started,
      skipped: report.skipped,
    }
    : undefined;
  if (backfill) ctx.health.backfill = backfill;
  /** The health's view of the backfill, brought up to date (the status page reads it). */
  const publish = () => {
    if (!backfill) return;
    const p = progress();
    Object.assign(backfill, {
      done: p.done,
      failed: p.failed,
      rows: p.rowsStored,
      rowsRead: p.rowsRead,
      alreadyStored: p.alreadyStored,
      etaSeconds: p.etaSeconds,
    });
  };
  ctx.health.current = progress;
  const reporter = ctx.progress ?? logProgress(ctx.log);
  const stopTicker = startTicker(ctx.clock, reporter.intervalMs, () => {
    publish();
    reporter.update(progress());
  });
  const runOne = async (unit: Unit) => {
    let flight: Flight = { read: 0, stored: 0, already: 0, share: 0 };
    try {
      const [rows, skippedRows] = await retry(() => {
        // A new attempt starts from nothing: what a failed one read is read again.
        flights.delete(flight);
        flight = { read: 0, stored: 0, already: 0, share: 0 };
        flights.add(flight);
        return fetchUnit(ctx, unit, options, flight);
      }, {
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
      flights.delete(flight);
      report.done++;
      report.rows += rows;
      report.rowsRead += rows + skippedRows;
      noteRows(ctx.health, rows, ctx.clock.now().getTime());
      report.skippedRows += skippedRows;
    } catch (e) {
      flights.delete(flight);
      if (ctx.signal.aborted) return;
      noteError(ctx.health, kind, e);
      report.failed.push({ unit: unit.id, error: errorText(e) });
      ctx.log.error(`${kind} unit failed for good; continuing with the others`, {
        unit: unit.id,
        error: errorText(e),
      });
    }
  };
  try {
    await eachBounded(todo, ctx.spec.chunking.parallelism, ctx.signal, async (unit) => {
      await runOne(unit);
      publish();
    });
  } finally {
    stopTicker();
  }
  publish();
  reporter.finish(progress());
  ctx.health.current = undefined;
  report.seconds = elapsed();
  report.rowsPerSecond = perSecond(report.rowsRead, report.seconds);
  report.storedPerSecond = perSecond(report.rows, report.seconds);
  if (backfill) {
    backfill.running = false;
    backfill.finished = ctx.clock.now();
    backfill.seconds = report.seconds;
  }
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

function perSecond(rows: number, seconds: number): number {
  return seconds > 0 ? Math.round(rows / seconds) : 0;
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
