/**
 * Watermark arithmetic, kept pure so it can be tested on its own: where a sync reads from,
 * and which tags may move their watermark after a run.
 */
import type { Ticks } from "./types.ts";

/** Tags whose watermark may move to `to`: those whose units all succeeded, never backwards. */
export function advancedMarks(
  tags: readonly string[],
  failedTags: ReadonlySet<string>,
  current: ReadonlyMap<string, Ticks>,
  to: Ticks,
  options: { onlyKnown?: boolean } = {},
): Map<string, Ticks> {
  const marks = new Map<string, Ticks>();
  for (const tag of tags) {
    if (failedTags.has(tag)) continue;
    const mark = current.get(tag);
    if (mark === undefined ? !options.onlyKnown : mark < to) marks.set(tag, to);
  }
  return marks;
}

/**
 * Where a sync of a chunk reads from (exclusive): its oldest watermark, minus the late-data
 * window on the runs that re-read it, but never before the range the spec asks for.
 */
export function syncStart(
  marks: readonly Ticks[],
  upper: Ticks,
  late: Ticks,
  rangeStart: Ticks,
): Ticks {
  const oldest = marks.reduce((m, t) => (t < m ? t : m), upper);
  return oldest - late > rangeStart ? oldest - late : rangeStart;
}
