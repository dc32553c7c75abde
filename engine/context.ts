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
  /** How backfill progress is shown; log lines when absent. */
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
  rows: number;
  skippedRows: number;
  seconds: number;
  rowsPerSecond: number;
}

export function emptyReport(kind: RunReport["kind"]): RunReport {
  return {
    kind,
    units: 0,
    skipped: 0,
    done: 0,
    failed: [],
    rows: 0,
    skippedRows: 0,
    seconds: 0,
    rowsPerSecond: 0,
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
