/**
 * Generated series for the summaries' tests: on-change values at rates from 1 s to hourly, gap
 * markers, points on and one tick before cycle edges, linear and stair-step analog tags with
 * integral divisors, discrete and text states with repeats, uncertain and bad quality, and late
 * points (store-and-forward, revisions) to insert after a first backfill. Deterministic per seed.
 */
import type { RefPoint, RefTag } from "./_summary_reference.ts";

const MINUTE = 600_000_000n;
const HOUR = 60n * MINUTE;

/** A small seeded generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedTag extends RefTag {
  type: "analog" | "discrete" | "string";
  /** Points stored by the first backfill. */
  initial: RefPoint[];
  /** Points stored later (new times, or revisions of stored ones). */
  late: RefPoint[];
}

const RATES_S = [1, 2, 5, 10, 30, 60, 300, 900, 3600];

/**
 * `n` series between `from` and `horizon`. About a third of them get late points; `horizon`
 * is where the reference says the signal ends.
 */
export function generateSeries(
  n: number,
  from: bigint,
  horizon: bigint,
  seed = 29,
): GeneratedTag[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const out: GeneratedTag[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const type = r < 0.65 ? "analog" : r < 0.85 ? "discrete" : "string";
    const linear = type === "analog" && rnd() < 0.7;
    const rate = BigInt(pick(RATES_S)) * 10_000_000n;
    const count = 2 + Math.floor(rnd() * (rate >= HOUR ? 6 : rate >= 5n * MINUTE ? 20 : 60));
    const span = rate * BigInt(count);
    const room = horizon - from - span;
    let t = from + (room > 0n ? BigInt(Math.floor(rnd() * Number(room))) : 0n);
    const times: bigint[] = [];
    for (let k = 0; k < count && t <= horizon; k++) {
      const e = rnd();
      // On an edge, one tick before one, or anywhere (down to the tick).
      const snapped = e < 0.12
        ? (t / MINUTE) * MINUTE
        : e < 0.2
        ? (t / MINUTE + 1n) * MINUTE - 1n
        : e < 0.23
        ? (t / HOUR + 1n) * HOUR - 1n
        : t;
      if (snapped > (times.at(-1) ?? -1n) && snapped <= horizon) times.push(snapped);
      t += BigInt(Math.floor(Number(rate) * (0.2 + 1.6 * rnd()))) + 1n;
    }
    if (rnd() < 0.03 && (times.at(-1) ?? horizon) < horizon) times.push(horizon);
    let value = Math.round(rnd() * 1000) / 10;
    let state = 0;
    const points: RefPoint[] = times.map((time) => {
      const g = rnd();
      if (g < 0.07) {
        return { t: time, value: null, text: null, opc: rnd() < 0.5 ? 192 : 24 };
      }
      const opc = g < 0.15 ? 64 + Math.floor(rnd() * 128) : g < 0.17 ? 8 : 192 + (g < 0.2 ? 24 : 0);
      if (type === "analog") {
        value = Math.round((value + (rnd() - 0.5) * 20) * 1000) / 1000;
        return { t: time, value, text: null, opc };
      }
      if (rnd() > 0.45) state = (state + 1 + Math.floor(rnd() * 2)) % 3;
      return type === "discrete"
        ? { t: time, value: state % 2, text: null, opc }
        : { t: time, value: null, text: ["Idle", "Run 'A'", "Stop\tB"][state]!, opc };
    });
    const late: RefPoint[] = [];
    if (points.length >= 2 && rnd() < 0.35) {
      const first = points[0]!.t;
      const last = points[points.length - 1]!.t;
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const at = rnd() < 0.2
          ? pick(points).t // a revision of a stored point
          : rnd() < 0.3
          ? (first + BigInt(Math.floor(rnd() * Number(last - first))) / MINUTE) * MINUTE
          : first + BigInt(Math.floor(rnd() * Number(last - first)));
        if (at <= from || late.some((p) => p.t === at)) continue;
        late.push(
          type === "analog"
            ? { t: at, value: Math.round(rnd() * 5000) / 10, text: null, opc: 192 }
            : type === "discrete"
            ? { t: at, value: Math.floor(rnd() * 2), text: null, opc: 192 }
            : { t: at, value: null, text: rnd() < 0.5 ? "Idle" : "Late", opc: 192 },
        );
      }
    }
    const merged = new Map(points.map((p) => [p.t, p]));
    for (const p of late) merged.set(p.t, p);
    out.push({
      name: `S${String(i).padStart(5, "0")}.${type}${linear ? ".lin" : ""}`,
      type,
      kind: type === "analog" ? "analog" : "state",
      linear,
      divisor: type === "analog" ? pick([1, 1, 60, 3600]) : 1,
      points: [...merged.values()].sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0)),
      horizon,
      initial: points,
      late,
    });
  }
  return out;
}
