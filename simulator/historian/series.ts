/**
 * A tag's stored history as the Historian keeps it: points in UTC ticks, each with an
 * original and possibly a latest (revised) version, plus what arrived late. Base series come
 * from the plant generator (computed on demand) or a dataset (held in memory); `TagStore` adds
 * what tests and demos inject at run time: store-and-forward points, revisions, points held
 * back until "the network comes back", and the server clock's cut-off.
 */

export type TagKind = "analog" | "discrete" | "string";

export interface Point {
  t: bigint;
  value: number | null;
  text: string | null;
  /** Summary quality: 0 good, 1 bad. */
  quality: number;
  qd: number;
  opc: number;
}

export interface Series {
  /** Points with `from < t <= to` (`from <= t` when `inclusive`), ascending. */
  range(from: bigint, inclusive: boolean, to: bigint): Iterable<Point>;
  /** The last point at or before `at`. */
  lastAtOrBefore(at: bigint): Point | undefined;
}

export interface TagMeta {
  name: string;
  key: number;
  kind: TagKind;
  description: string;
  unit: string;
  minEU: number;
  maxEU: number;
  /** Storage rate in ms (0 = delta storage, irregular). */
  rateMs: number;
  /** AnalogTag.InterpolationType: 0 stair-step, 1 linear, 254 the system default. */
  interpolation: number;
  /** The IntegralDivisor of the tag's engineering unit: Integral = value × seconds ÷ divisor. */
  integralDivisor: number;
}

/** Binary search: index of the first point with t > at (or >= at when `inclusive`). */
export function firstIndex(points: readonly Point[], at: bigint, inclusive: boolean): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const t = points[mid]!.t;
    if (inclusive ? t < at : t <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A series held in memory as a sorted array (datasets, injected points). */
export function arraySeries(points: Point[]): Series {
  return {
    *range(from, inclusive, to) {
      for (
        let i = firstIndex(points, from, inclusive);
        i < points.length && points[i]!.t <= to;
        i++
      ) yield points[i]!;
    },
    lastAtOrBefore(at) {
      const i = firstIndex(points, at, false) - 1;
      return i >= 0 ? points[i] : undefined;
    },
  };
}

export interface Hold {
  tags: (name: string) => boolean;
  from: bigint;
  to: bigint;
}

/**
 * A tag's history as queries see it: the base series merged with injected points (which win
 * on equal timestamps), minus held-back points, cut at the server clock, in the requested
 * version (LATEST applies revisions, with QualityDetail 202).
 */
export class TagStore {
  readonly injected: Point[] = [];
  readonly revisions = new Map<bigint, Point>();

  constructor(readonly meta: TagMeta, readonly base: Series) {}

  inject(points: Point[]) {
    for (const p of points) {
      const i = firstIndex(this.injected, p.t, true);
      if (this.injected[i]?.t === p.t) this.injected[i] = p;
      else this.injected.splice(i, 0, p);
    }
  }

  *range(from: bigint, inclusive: boolean, to: bigint, view: View): Iterable<Point> {
    const end = to < view.now ? to : view.now;
    if (end < from) return;
    const a = this.base.range(from, inclusive, end)[Symbol.iterator]();
    let i = firstIndex(this.injected, from, inclusive);
    let x = a.next();
    while (true) {
      const y = i < this.injected.length && this.injected[i]!.t <= end
        ? this.injected[i]!
        : undefined;
      if (x.done && !y) return;
      let p: Point;
      if (y && (x.done || y.t <= x.value.t)) {
        if (!x.done && x.value.t === y.t) x = a.next();
        p = y;
        i++;
      } else {
        p = x.value as Point;
        x = a.next();
      }
      if (view.hidden(this.meta.name, p.t)) continue;
      yield view.latest ? this.revisions.get(p.t) ?? p : p;
    }
  }

  lastAtOrBefore(at: bigint, view: View): Point | undefined {
    const limit = at < view.now ? at : view.now;
    let candidate: Point | undefined;
    // Walk back past hidden points; holds are short, so this stays cheap.
    let probe = limit;
    for (let guard = 0; guard < 100_000; guard++) {
      const b = this.base.lastAtOrBefore(probe);
      const j = firstIndex(this.injected, probe, false) - 1;
      const inj = j >= 0 ? this.injected[j] : undefined;
      const p = !b ? inj : !inj ? b : inj.t >= b.t ? inj : b;
      if (!p) return undefined;
      if (!view.hidden(this.meta.name, p.t)) {
        candidate = p;
        break;
      }
      probe = p.t - 1n;
    }
    if (!candidate) return undefined;
    return view.latest ? this.revisions.get(candidate.t) ?? candidate : candidate;
  }
}

/** How a query sees the stores: the server clock, the version, and what is held back. */
export interface View {
  now: bigint;
  latest: boolean;
  hidden(tag: string, t: bigint): boolean;
}
