/**
 * Historian times ↔ the engine's ticks, keeping the 100 ns that tedious carries beside a JS
 * Date (`nanosecondsDelta` on values read, `nanosecondDelta` on parameters sent).
 */
import { TICKS_PER_MS } from "../../engine/mod.ts";
import type { Ticks } from "../../engine/mod.ts";

export type HistoryDate = Date & { nanosecondsDelta?: number };

/** One time's ticks (for a stream of rows, ticksReader). */
export function ticksOf(d: HistoryDate): Ticks {
  return ticksReader()(d);
}

/**
 * Ticks of a stream of rows' times: consecutive rows mostly share a millisecond (a query's tags at
 * one timestamp), so the last millisecond's ticks are kept and the four bigint allocations per
 * row become none.
 */
export function ticksReader(): (d: HistoryDate) => Ticks {
  let lastMs = NaN;
  let base = 0n;
  return (d) => {
    const ms = d.getTime();
    if (ms !== lastMs) {
      lastMs = ms;
      base = BigInt(ms) * TICKS_PER_MS;
    }
    const sub = Math.round((d.nanosecondsDelta ?? 0) * 1e7);
    return sub === 0 ? base : base + BigInt(sub);
  };
}

/** A Date carrying the sub-millisecond ticks tedious sends for datetime2(7) parameters. */
export function dateOf(ticks: Ticks): Date {
  const ms = ticks / TICKS_PER_MS - (ticks % TICKS_PER_MS < 0n ? 1n : 0n);
  const d = new Date(Number(ms)) as Date & { nanosecondDelta?: number };
  d.nanosecondDelta = Number(ticks - ms * TICKS_PER_MS) / 1e7;
  return d;
}
