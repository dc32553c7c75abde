/**
 * In-memory summaries for the engine's own tests of `verify --summaries`: the historian's rows
 * (what a source's `summaries()` answers) and a stored copy (what the store holds, through the
 * engine's SummaryStore), per resolution. The numbers are made up; only their equality matters.
 * Tests corrupt or drop stored rows and see what verify names.
 */
import type { SummaryStore } from "../../engine/summary_store.ts";
import type {
  AnalogSummaryRow,
  StateSummaryRow,
  Summaries,
  TagInfo,
  Ticks,
  TimeWindow,
} from "../../engine/types.ts";

export interface FakeSummaries {
  historian: Map<number, Summaries>;
  stored: Map<number, Summaries>;
  /** A source's summaries(): the historian's rows of the tags and cycles asked for. */
  source(tags: readonly TagInfo[], window: TimeWindow, resolutionMs: number): Promise<Summaries>;
  store: SummaryStore;
  /** Calls of source(), for checking what verify asked. */
  asked: { tags: string[]; window: TimeWindow; resolutionMs: number }[];
}

const inside =
  (names: readonly string[], window: TimeWindow) =>
  <T extends { TagName: string; StartDateTime: Ticks; EndDateTime: Ticks }>(r: T) =>
    names.includes(r.TagName) && r.StartDateTime >= window.from && r.EndDateTime <= window.to;

/** Rows for every cycle of each resolution in [from, to): analog tags and one state per cycle. */
export function createFakeSummaries(
  tags: readonly TagInfo[],
  from: Ticks,
  to: Ticks,
  resolutions: number[],
): FakeSummaries {
  const historian = new Map<number, Summaries>();
  for (const ms of resolutions) {
    const r = BigInt(ms) * 10_000n;
    const rows: Summaries = { analog: [], state: [] };
    for (let s = from; s + r <= to; s += r) {
      for (const [i, tag] of tags.entries()) {
        const v = Number((s / r) % 97n) + i;
        if (tag.type === "analog") rows.analog.push(analogRow(tag.name, s, s + r, v));
        else rows.state.push(stateRow(tag.name, s, s + r, v % 2, ms));
      }
    }
    historian.set(ms, rows);
  }
  const stored = new Map(
    [...historian].map(([ms, s]) => [ms, {
      analog: s.analog.map((r) => ({ ...r })),
      state: s.state.map((r) => ({ ...r })),
    }]),
  );
  const fake: FakeSummaries = {
    historian,
    stored,
    asked: [],
    source(tagList, window, resolutionMs) {
      const names = tagList.map((t) => t.name);
      fake.asked.push({ tags: names, window, resolutionMs });
      const all = historian.get(resolutionMs) ?? { analog: [], state: [] };
      return Promise.resolve({
        analog: all.analog.filter(inside(names, window)),
        state: all.state.filter(inside(names, window)),
      });
    },
    store: {
      rows(names, window, resolutionMs) {
        const all = stored.get(resolutionMs) ?? { analog: [], state: [] };
        return Promise.resolve({
          analog: all.analog.filter(inside(names, window)),
          state: all.state.filter(inside(names, window)),
        });
      },
    },
  };
  return fake;
}

function analogRow(tag: string, start: Ticks, end: Ticks, v: number): AnalogSummaryRow {
  return {
    TagName: tag,
    StartDateTime: start,
    EndDateTime: end,
    OPCQuality: 192,
    PercentGood: 100,
    First: v,
    FirstDateTime: start,
    Last: v + 1,
    LastDateTime: start + (end - start) / 2n,
    Minimum: v,
    MinDateTime: start,
    Maximum: v + 1,
    MaxDateTime: start + (end - start) / 2n,
    Average: v + 0.5,
    StdDev: 0.5,
    Integral: (v + 0.5) * Number(end - start) / 1e7,
    ValueCount: 2,
  };
}

function stateRow(tag: string, start: Ticks, end: Ticks, v: number, ms: number): StateSummaryRow {
  return {
    TagName: tag,
    StartDateTime: start,
    EndDateTime: end,
    Value: v,
    vValue: String(v),
    OPCQuality: 192,
    StateCount: 1,
    ContainedStateCount: 0,
    StateTimeMin: ms,
    StateTimeMax: ms,
    StateTimeAvg: ms,
    StateTimeTotal: ms,
    StateTimeMinContained: null,
    StateTimeMaxContained: null,
    StateTimeAvgContained: null,
    StateTimeTotalContained: 0,
    StateTimePercent: 100,
  };
}
