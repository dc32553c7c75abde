/**
 * Progress reporting, injected: the engine says how a run is going, the caller decides how to
 * show it (a log line, a bar on a terminal in cli/, nothing in tests). The engine never writes
 * to the terminal itself.
 */
import type { Logger } from "./log.ts";

export interface Progress {
  kind: "backfill" | "sync";
  units: number;
  /** Units done, those skipped as already done included. */
  done: number;
  failed: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  etaSeconds?: number;
}

export interface ProgressReporter {
  /** How often `update` is worth calling. */
  intervalMs: number;
  update(progress: Progress): void;
  /** The run ended (also when it had nothing to do). */
  finish(progress: Progress): void;
}

/** A log line per update: what a service's journal wants. */
export function logProgress(log: Logger): ProgressReporter {
  return {
    intervalMs: 5_000,
    update: (p) =>
      log.info(`${p.kind} progress`, {
        units_done: p.done,
        units: p.units,
        failed: p.failed,
        rows: p.rows,
        rows_per_s: p.rowsPerSecond,
        eta_s: p.etaSeconds,
        ...memory(),
      }),
    finish: () => {},
  };
}

/** This process's memory in MB: resident, the JS heap in use, and buffers outside it. */
function memory(): Record<string, number> {
  const m = Deno.memoryUsage();
  const mb = (n: number) => Math.round(n / 1024 ** 2);
  return {
    rss_mb: mb(m.rss),
    heap_mb: mb(m.heapUsed),
    heap_total_mb: mb(m.heapTotal),
    external_mb: mb(m.external),
  };
}
