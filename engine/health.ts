/**
 * What the engine knows about how it is doing, for the status route, the metrics and logs:
 * backfill progress, the last sync, recent errors, and error counters that only go up.
 */
import { errorText } from "./log.ts";
import type { Progress } from "./progress.ts";
import type { Ticks } from "./types.ts";

export interface Health {
  backfill?: {
    units: number;
    done: number;
    failed: number;
    /** Readings stored. */
    rows: number;
    /** Readings read (stored, or found already stored), units in flight included. */
    rowsRead?: number;
    /** Readings read that the store already held. */
    alreadyStored?: number;
    running: boolean;
    /** When this backfill started; with `rows` and `done`, the page's rows/s and ETA. */
    started?: Date;
    /** When it ended: its rates are over [started, finished], not up to now. */
    finished?: Date;
    /** How long it ran, once it ended. */
    seconds?: number;
    /** Seconds left, as the engine estimates them. */
    etaSeconds?: number;
    /** Units already recorded as done when it started (they cost nothing). */
    skipped?: number;
  };
  /** The run in progress, live (a backfill, a sync, a verify); undefined between runs. */
  current?: () => Progress;
  /** The tags the pipeline runs now (its last discovery); watermarks of others are history. */
  tags?: ReadonlySet<string>;
  lastSync?: {
    at: Date;
    rows: number;
    ok: boolean;
    upper: string;
    error?: string;
    /** How long it took. */
    seconds?: number;
  };
  /** When the last sync that succeeded finished. */
  lastSuccess?: Date;
  /** Readings stored by syncs since the start. */
  syncRows?: number;
  /** The pipeline's per-tag watermarks (the live map the pipeline updates). */
  watermarks?: Map<string, Ticks>;
  /** The most recent errors, newest last (at most 50). */
  errors: { at: Date; kind: string; message: string }[];
  /** Errors by kind since the start: a counter that never goes down. */
  errorCounts: Map<string, number>;
  /** Readings stored per minute (epoch ms of the minute's start), the last hour. */
  throughput: Map<number, number>;
  /** When the engine last wrote the asset dimension: a route's lookup reads it again after. */
  assetsAt?: Date;
}

export function createHealth(): Health {
  return { errors: [], errorCounts: new Map(), throughput: new Map() };
}

/** Records an error: kept among the recent ones and counted for good. */
export function noteError(health: Health, kind: string, e: unknown, at = new Date()) {
  health.errors.push({ at, kind, message: errorText(e) });
  if (health.errors.length > 50) health.errors.shift();
  health.errorCounts.set(kind, (health.errorCounts.get(kind) ?? 0) + 1);
}

/** Counts readings stored now into the minute they were stored in, keeping the last hour. */
export function noteRows(health: Health, rows: number, at = Date.now()) {
  if (rows <= 0) return;
  const minute = Math.floor(at / 60_000) * 60_000;
  health.throughput.set(minute, (health.throughput.get(minute) ?? 0) + rows);
  for (const m of health.throughput.keys()) {
    if (m <= minute - 60 * 60_000) health.throughput.delete(m);
  }
}
