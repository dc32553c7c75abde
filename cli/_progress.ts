/** A progress bar for backfills run on a terminal, redrawn in place about once a second. */
import type { Progress, ProgressReporter } from "../engine/progress.ts";

export function terminalProgress(out: { writeSync(bytes: Uint8Array): number }): ProgressReporter {
  const encoder = new TextEncoder();
  const draw = (p: Progress) => {
    const width = 30;
    const filled = Math.round(width * p.done / Math.max(p.units, 1));
    const bar =
      `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.done}/${p.units} units, ` +
      `${p.rows} rows, ${p.rowsPerSecond} rows/s` +
      (p.etaSeconds !== undefined ? `, ETA ${p.etaSeconds} s` : "") +
      (p.failed ? `, ${p.failed} failed` : "");
    out.writeSync(encoder.encode(`\r${bar}\x1b[K`));
  };
  let drawn = false;
  return {
    intervalMs: 1_000,
    update: (p) => (draw(p), drawn = true),
    finish: (p) => {
      if (!drawn && p.done === 0) return;
      draw(p);
      out.writeSync(encoder.encode("\n"));
    },
  };
}
