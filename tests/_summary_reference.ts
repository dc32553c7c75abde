/**
 * A reference for AVEVA's summary views, written plainly from the rules in docs/summaries.md and
 * deliberately slow: every cycle walks every point of its tag. The store's SQL (plugins/
 * sink-clickhouse/_summary_sql.ts) is compared with it; nothing here is shared with that SQL or
 * with the simulator's own implementation.
 */

export interface RefPoint {
  /** Ticks (100 ns since 1970). */
  t: bigint;
  value: number | null;
  text: string | null;
  /** OPC quality code. */
  opc: number;
}

export interface RefTag {
  name: string;
  kind: "analog" | "state";
  linear: boolean;
  divisor: number;
  /** Ascending, unique times. */
  points: RefPoint[];
  /** Everything up to here is stored; nothing after it is known. */
  horizon: bigint;
}

export type Rule = "extended" | "good";

export interface RefAnalogRow {
  tag: string;
  start: bigint;
  end: bigint;
  opcQuality: number;
  percentGood: number;
  first: number | null;
  firstTime: bigint | null;
  last: number | null;
  lastTime: bigint | null;
  minimum: number | null;
  minTime: bigint | null;
  maximum: number | null;
  maxTime: bigint | null;
  average: number | null;
  stdDev: number | null;
  integral: number | null;
  valueCount: number;
}

export interface RefStateRow {
  tag: string;
  start: bigint;
  end: bigint;
  value: number | null;
  vValue: string;
  opcQuality: number;
  stateCount: number;
  containedStateCount: number;
  timeMin: number;
  timeMax: number;
  timeAvg: number;
  timeTotal: number;
  timeMinContained: number | null;
  timeMaxContained: number | null;
  timeAvgContained: number | null;
  timeTotalContained: number;
  timePercent: number;
}

/** Whether the rule lets a point's value count. */
export function counts(p: RefPoint, rule: Rule): boolean {
  if (p.value === null && p.text === null) return false;
  if (p.opc >= 192 && p.opc <= 255) return true;
  return rule === "extended" && p.opc >= 64 && p.opc <= 191;
}

/** The points up to the horizon (later ones are not known yet). */
function known(tag: RefTag): RefPoint[] {
  return tag.points.filter((p) => p.t <= tag.horizon);
}

/** Cycle starts from the cycle of the first point to the cycle holding the horizon. */
function cycleStarts(tag: RefTag, cycle: bigint): bigint[] {
  const points = known(tag);
  if (points.length === 0) return [];
  const out: bigint[] = [];
  for (let s = points[0]!.t / cycle * cycle; s <= tag.horizon; s += cycle) out.push(s);
  return out;
}

const seconds = (ticks: bigint) => Number(ticks) / 1e7;

/** AnalogSummaryHistory rows of one tag for cycles of `cycle` ticks. */
export function analogRows(tag: RefTag, cycle: bigint, rule: Rule): RefAnalogRow[] {
  const points = known(tag);
  const rows: RefAnalogRow[] = [];
  for (const start of cycleStarts(tag, cycle)) {
    const end = start + cycle;
    // Pieces of the signal inside the cycle: [from, to) with the values at both ends.
    const pieces: { from: bigint; to: bigint; a: number; b: number; opc: number }[] = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const next = points[i + 1];
      const segmentEnd = next ? next.t : tag.horizon;
      const from = p.t > start ? p.t : start;
      const to = segmentEnd < end ? segmentEnd : end;
      if (to <= from) continue;
      if (!counts(p, rule) || p.value === null) continue;
      const slopes = tag.linear && next !== undefined && counts(next, rule) && next.value !== null;
      const at = (x: bigint) =>
        slopes
          ? p.value! + (next!.value! - p.value!) * Number(x - p.t) / Number(next!.t - p.t)
          : p.value!;
      pieces.push({ from, to, a: at(from), b: at(to), opc: p.opc });
    }
    let covered = 0n;
    let area = 0;
    for (const x of pieces) {
      covered += x.to - x.from;
      area += seconds(x.to - x.from) * (x.a + x.b) / 2;
    }
    const average = covered > 0n ? area / seconds(covered) : null;
    let spread = 0;
    for (const x of pieces) {
      const da = x.a - average!;
      const db = x.b - average!;
      spread += seconds(x.to - x.from) * (da * da + da * db + db * db) / 3;
    }
    const opcs = new Set(pieces.map((x) => x.opc));
    const allGood = [...opcs].every((c) => c >= 192);
    const inside = points.filter((p) =>
      p.t >= start && p.t < end && counts(p, rule) && p.value !== null
    );
    let held: RefPoint | undefined;
    for (const p of points) if (p.t <= start) held = p;
    const heldValue = held && counts(held, rule) && held.value !== null ? held : undefined;
    let min: RefPoint | undefined;
    let max: RefPoint | undefined;
    for (const p of inside) {
      if (!min || p.value! < min.value!) min = p;
      if (!max || p.value! > max.value!) max = p;
    }
    const first = inside[0] ?? heldValue;
    const last = inside[inside.length - 1] ?? heldValue;
    rows.push({
      tag: tag.name,
      start,
      end,
      opcQuality: covered === 0n
        ? 0
        : covered === cycle && allGood
        ? (opcs.size === 1 ? [...opcs][0]! : 192)
        : 64,
      percentGood: Number(covered) / Number(cycle) * 100,
      first: first?.value ?? null,
      firstTime: first?.t ?? null,
      last: last?.value ?? null,
      lastTime: last?.t ?? null,
      minimum: min?.value ?? null,
      minTime: min?.t ?? null,
      maximum: max?.value ?? null,
      maxTime: max?.t ?? null,
      average,
      stdDev: average === null ? null : Math.sqrt(spread / seconds(covered)),
      integral: covered > 0n ? area / tag.divisor : null,
      valueCount: inside.length,
    });
  }
  return rows;
}

/** A state's identity: its number, or its text when it has none. */
export function stateKey(p: RefPoint): string {
  return p.value !== null ? `n${p.value}` : `s${p.text}`;
}

interface Occurrence {
  key: string;
  value: number | null;
  text: string;
  start: bigint;
  /** Undefined while it still runs (nothing after it is known). */
  end?: bigint;
  points: RefPoint[];
}

/** Runs of counted points with one state; anything else ends a run. */
function occurrencesOf(tag: RefTag, rule: Rule): Occurrence[] {
  const out: Occurrence[] = [];
  let run: Occurrence | undefined;
  for (const p of known(tag)) {
    if (!counts(p, rule)) {
      if (run) run.end = p.t;
      run = undefined;
      continue;
    }
    if (run && run.key === stateKey(p)) {
      run.points.push(p);
      continue;
    }
    if (run) run.end = p.t;
    run = {
      key: stateKey(p),
      value: p.value,
      text: p.value !== null ? String(p.value) : p.text!,
      start: p.t,
      points: [p],
    };
    out.push(run);
  }
  return out;
}

/** StateSummaryHistory rows of one tag for cycles of `cycle` ticks. */
export function stateRows(tag: RefTag, cycle: bigint, rule: Rule): RefStateRow[] {
  const occurrences = occurrencesOf(tag, rule);
  const rows: RefStateRow[] = [];
  for (const start of cycleStarts(tag, cycle)) {
    const end = start + cycle;
    const byState = new Map<string, { o: Occurrence; ms: number; contained: boolean }[]>();
    for (const o of occurrences) {
      const stop = o.end ?? tag.horizon;
      const from = o.start > start ? o.start : start;
      const to = stop < end ? stop : end;
      if (to <= from) continue;
      const list = byState.get(o.key) ?? [];
      list.push({
        o,
        ms: Number(to - from) / 1e4,
        contained: o.end !== undefined && o.start >= start && o.end <= end,
      });
      byState.set(o.key, list);
    }
    for (const list of byState.values()) {
      const times = list.map((x) => x.ms);
      const kept = list.filter((x) => x.contained).map((x) => x.ms);
      const total = times.reduce((a, b) => a + b, 0);
      const keptTotal = kept.reduce((a, b) => a + b, 0);
      const opcs = new Set<number>();
      for (const { o } of list) {
        let held: RefPoint | undefined;
        for (const p of o.points) {
          if (p.t <= start) held = p;
          if (p.t >= start && p.t < end) opcs.add(p.opc);
        }
        if (held) opcs.add(held.opc);
      }
      const { value, text } = list[0]!.o;
      rows.push({
        tag: tag.name,
        start,
        end,
        value,
        vValue: text,
        opcQuality: opcs.size === 1 ? [...opcs][0]! : 64,
        stateCount: list.length,
        containedStateCount: kept.length,
        timeMin: Math.min(...times),
        timeMax: Math.max(...times),
        timeAvg: total / times.length,
        timeTotal: total,
        timeMinContained: kept.length ? Math.min(...kept) : null,
        timeMaxContained: kept.length ? Math.max(...kept) : null,
        timeAvgContained: kept.length ? keptTotal / kept.length : null,
        timeTotalContained: keptTotal,
        timePercent: total / (Number(cycle) / 1e4) * 100,
      });
    }
  }
  return rows;
}
