import assert from "node:assert/strict";
import { DEFAULT_PLANT, generatePlant } from "./plant.ts";
import type { GeneratedTag } from "./plant.ts";
import type { Point } from "./series.ts";

const HOUR = 36_000_000_000n;
const origin = 17_780_000_000_000_000n; // 2026-05-05, on the hour grid's scale
const plant = generatePlant(
  { ...DEFAULT_PLANT, analog: 40, discrete: 4, string: 2, systemTags: false, shape: "realistic" },
  origin,
);

const points = (g: GeneratedTag, from: bigint, to: bigint, inclusive = false): Point[] => [
  ...g.series.range(from, inclusive, to),
];
const decimalsOf = (v: number) => (String(v).split(".")[1] ?? "").length;

Deno.test("the realistic plant: each analog tag reads with a fixed number of decimals", () => {
  for (const g of plant.filter((g) => g.meta.kind === "analog")) {
    const values = points(g, origin, origin + 2n * HOUR).flatMap((p) =>
      p.value === null ? [] : [p.value]
    );
    assert.ok(values.length > 0, g.meta.name);
    const most = Math.max(...values.map(decimalsOf));
    assert.ok(most <= 2, `${g.meta.name}: ${most} decimals`);
    // Most values use the tag's full resolution, none a finer one.
    assert.ok(values.filter((v) => decimalsOf(v) === most).length > values.length / 3);
  }
});

Deno.test("the realistic plant: stored on change, scanned from 1 s to 5 minutes", () => {
  const gaps = new Set<bigint>();
  let stored = 0;
  let scanned = 0;
  for (const g of plant.filter((g) => g.meta.kind === "analog")) {
    const ps = points(g, origin, origin + 6n * HOUR);
    let smallest = ps[1]!.t - ps[0]!.t;
    for (let i = 1; i < ps.length; i++) {
      const gap = ps[i]!.t - ps[i - 1]!.t;
      if (gap < smallest) smallest = gap;
    }
    // The smallest gap is one scan, give or take an I/O server's delay of up to 20 ms.
    gaps.add((smallest + 500_000n) / 10_000_000n);
    stored += ps.length;
    scanned += Number(6n * HOUR / smallest);
  }
  assert.deepEqual([...gaps].sort((a, b) => Number(a - b)), [1n, 2n, 5n, 10n, 60n, 300n]);
  assert.ok(stored < scanned / 2, `${stored} of ${scanned} scans stored`);
  const changes = plant.filter((g) => g.meta.kind !== "analog").map((g) =>
    points(g, origin, origin + 6n * HOUR)
  );
  for (const ps of changes) {
    // State changes, and a forced point at least every 15 minutes.
    assert.ok(ps.length >= 24 && ps.length < 6 * 3600 / 10, `${ps.length} points`);
  }
});

Deno.test("the realistic plant: any window reads the same points as the whole", () => {
  for (const g of plant) {
    const whole = points(g, origin, origin + 2n * HOUR);
    const cut = origin + HOUR + 123_456_789n;
    const parts = [...points(g, origin, cut), ...points(g, cut, origin + 2n * HOUR)];
    assert.deepEqual(parts, whole, g.meta.name);
    const last = whole.filter((p) => p.t <= cut).at(-1);
    assert.deepEqual(g.series.lastAtOrBefore(cut), last, g.meta.name);
    if (last) assert.deepEqual(points(g, last.t, last.t, true), [last]);
  }
});

Deno.test("the realistic plant: deterministic, with I/O-server delays on half the tags", () => {
  const again = generatePlant(
    { ...DEFAULT_PLANT, analog: 40, discrete: 4, string: 2, systemTags: false, shape: "realistic" },
    origin,
  );
  const first = (g: GeneratedTag) => points(g, origin, origin + HOUR / 4n);
  assert.deepEqual(again.map(first), plant.map(first));
  const jittered = plant.filter((g) => {
    const ms = new Set(first(g).map((p) => (p.t / 10_000n) % 1000n));
    return g.meta.kind === "analog" && ms.size > 1;
  });
  assert.ok(jittered.length >= 10 && jittered.length <= 30, `${jittered.length} of 40`);
});
