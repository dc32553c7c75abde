/**
 * Progress reporting, injected: the engine says how a run is going, the caller decides how to
 * show it (a log line, a bar on a terminal in cli/, nothing in tests). The engine never writes
 * to the terminal itself.
 *
 * Progress is told on a timer driven by the engine's clock, not when a unit ends: a unit can
 * take minutes (50 tags × a day), and a backfill must not go quiet for as long.
 */
import type { Logger } from "./log.ts";
import type { Clock } from "./plugin.ts";

export interface Progress {
  kind: "backfill" | "sync" | "verify";
  units: number;
  /** Units done, those skipped as already done included. */
  done: number;
  failed: number;
  /** Units being worked on now. */
  running: number;
  /** Readings those units have read and not yet committed. */
  rowsInFlight: number;
  /** Readings the source returned (verify: the historian counted), units in flight included. */
  rowsRead: number;
  /** Readings written to the store (verify: the store counted). */
  rowsStored: number;
  /** Readings read again that the store already held (re-reads of stored ranges). */
  alreadyStored: number;
  seconds: number;
  /** Readings read per second, since the run started. */
  rowsPerSecond: number;
  /** Readings stored per second, since the run started. */
  storedPerSecond: number;
  etaSeconds?: number;
  /** Verify: the tag-windows that differ so far. */
  differ?: number;
}

export interface ProgressReporter {
  /** How often `update` is worth calling; 0: only `finish`. */
  intervalMs: number;
  update(progress: Progress): void;
  /** The run ended (also when it had nothing to do). */
  finish(progress: Progress): void;
}

/** A log line per update: what a service's journal wants. */
export function logProgress(log: Logger): ProgressReporter {
  return {
    intervalMs: 5_000,
    update: (p) => log.info(`${p.kind} progress`, { ...progressFields(p), ...memory() }),
    finish: () => {},
  };
}

/** A run's figures as log fields: read, stored and already stored kept apart. */
export function progressFields(p: Progress): Record<string, number | undefined> {
  if (p.kind === "verify") {
    return {
      units_done: p.done,
      units: p.units,
      historian: p.rowsRead,
      stored: p.rowsStored,
      differ: p.differ,
      eta_s: p.etaSeconds,
    };
  }
  return {
    units_done: p.done,
    units: p.units,
    running: p.running,
    failed: p.failed,
    rows_read: p.rowsRead,
    rows_stored: p.rowsStored,
    already_stored: p.alreadyStored,
    rows_per_s: p.rowsPerSecond,
    stored_per_s: p.storedPerSecond,
    eta_s: p.etaSeconds,
  };
}

/**
 * Calls `tick` every `intervalMs` of the clock until stopped; nothing when the interval is 0.
 * The clock's sleep paces it, so a test that drives the clock drives the reports.
 */
export function startTicker(clock: Clock, intervalMs: number, tick: () => void): () => void {
  if (!(intervalMs > 0)) return () => {};
  const stop = new AbortController();
  (async () => {
    while (!stop.signal.aborted) {
      try {
        await clock.sleep(intervalMs, stop.signal);
      } catch {
        return;
      }
      if (!stop.signal.aborted) tick();
    }
  })();
  return () => stop.abort();
}

/**
 * Seconds left, from the share of the work done: whole units and, for units in flight, how far
 * into their window the readings have come (reads are in time order). Undefined until some
 * work is done.
 */
export function etaSeconds(seconds: number, doneShare: number): number | undefined {
  if (!(doneShare > 0) || seconds <= 0) return undefined;
  return Math.max(0, Math.round(seconds * (1 - Math.min(doneShare, 1)) / doneShare));
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
