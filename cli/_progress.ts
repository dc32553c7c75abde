/**
 * A progress bar for backfills and verify runs on a terminal, redrawn in place every second:
 * units, rows read, stored and already stored, rows/s and the ETA, the same figures the log
 * lines carry. Syncs stay off the bar (they run every minute under `run`; their log lines say
 * how they went).
 */
import type { Progress, ProgressReporter } from "../engine/progress.ts";

export function terminalProgress(out: { writeSync(bytes: Uint8Array): number }): ProgressReporter {
  const encoder = new TextEncoder();
  const draw = (p: Progress) => {
    out.writeSync(encoder.encode(`\r${progressLine(p)}\x1b[K`));
  };
  let drawn = false;
  return {
    intervalMs: 1_000,
    update: (p) => {
      if (p.kind === "sync") return;
      draw(p);
      drawn = true;
    },
    finish: (p) => {
      if (p.kind === "sync" || (!drawn && p.done === 0)) return;
      draw(p);
      out.writeSync(encoder.encode("\n"));
      drawn = false;
    },
  };
}

/** One line: the bar and the figures. */
export function progressLine(p: Progress): string {
  const width = 24;
  const filled = Math.round(width * Math.min(p.done / Math.max(p.units, 1), 1));
  const n = (x: number) => x.toLocaleString("en-US");
  const eta = p.etaSeconds !== undefined ? `, ETA ${duration(p.etaSeconds)}` : "";
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.done}/${p.units} units`;
  if (p.kind === "verify") {
    return `${bar}, counted ${n(p.rowsRead)} in the historian, ${n(p.rowsStored)} stored` +
      (p.differ ? `, ${p.differ} differ` : "") + eta;
  }
  return `${bar}, ${n(p.rowsRead)} read, ${n(p.rowsStored)} stored` +
    (p.alreadyStored ? `, ${n(p.alreadyStored)} already stored` : "") +
    `, ${n(p.rowsPerSecond)} rows/s${eta}` + (p.failed ? `, ${p.failed} failed` : "");
}

/** Seconds as `45 s`, `12 min 5 s`, `3 h 20 min`. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
