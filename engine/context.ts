/**
 * What the stages share while a pipeline runs, and the report each run ends with.
 */
import type { Engine } from "./engine.ts";
import type { Health } from "./health.ts";
import type { Logger } from "./log.ts";
import type { Clock, Sink, Source, StateStore } from "./plugin.ts";
import type { ProgressReporter } from "./progress.ts";
import type { Spec } from "./spec/schema.ts";

export interface PipelineContext {
  engine: Engine;
  spec: Spec;
  log: Logger;
  clock: Clock;
  health: Health;
  signal: AbortSignal;
  /** How progress is shown (backfills, syncs, verify); a log line every 5 s when absent. */
  progress?: ProgressReporter;
  /** Syncs run so far by this process (for late_data_every). */
  syncs?: number;
  /** How the user sets a spec value (LoadedSpec.setting): its variable, else its YAML path. */
  setting?(path: string): string;
}

export interface RunReport {
  kind: "backfill" | "sync";
  units: number;
  skipped: number;
  done: number;
  failed: { unit: string; error: string }[];
  /** Readings written to the store. */
  rows: number;
  /** Readings the source returned: written, or found already stored. */
  rowsRead: number;
  /** Readings read that the store already held. */
  skippedRows: number;
  seconds: number;
  /** Readings read per second. */
  rowsPerSecond: number;
  /** Readings stored per second. */
  storedPerSecond: number;
}

export function emptyReport(kind: RunReport["kind"]): RunReport {
  return {
    kind,
    units: 0,
    skipped: 0,
    done: 0,
    failed: [],
    rows: 0,
    rowsRead: 0,
    skippedRows: 0,
    seconds: 0,
    rowsPerSecond: 0,
    storedPerSecond: 0,
  };
}

/** The plugins a run needs; a ConfigError at load time already made sure they can exist. */
export function parts(ctx: PipelineContext): { source: Source; sink: Sink; state: StateStore } {
  const { source, sink, state } = ctx.engine;
  if (!source || !sink || !state) {
    throw new Error("the pipeline cannot run without its source, its sink and the sink's state");
  }
  return { source, sink, state };
}
