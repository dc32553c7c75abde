/**
 * The demo plant: deterministic tags and history computed from a seed, on demand, so a year of
 * history for 10,000 tags costs no memory. Tags are named <site>.<line>.<machine>.<sensor>
 * (the shipped asset model reads those names). Analog tags carry sines with noise, steps,
 * ramps and counters; discrete tags switch; string tags change recipe; some tags store with
 * sub-millisecond offsets; short bad-quality periods (communication loss, NaN) come and go.
 * `shape: realistic` makes the plant of realistic.ts instead: fixed decimals, deadbands, scan
 * rates from 1 s to minutes, stored on change (what benchmarks of bytes on disk need).
 */
import type { Point, Series, TagKind, TagMeta } from "./series.ts";
import { realisticPlant } from "./realistic.ts";

export interface PlantOptions {
  seed: number;
  analog: number;
  discrete: number;
  string: number;
  /** Storage rates in ms. */
  analogRateMs: number;
  discreteRateMs: number;
  stringRateMs: number;
  /** History starts this long before the simulator starts (ms). */
  historyMs: number;
  /** Include the Historian's own Sys* tags (excluded by default by extractors). */
  systemTags: boolean;
  /**
   * demo: every tag on its storage rate's grid, six-decimal values; realistic: per-sensor
   * decimals, scan rates (1 s to 5 min) and deadbands, stored on change (the rates above then
   * apply to the demo shape only).
   */
  shape?: "demo" | "realistic";
}

export const DEFAULT_PLANT: PlantOptions = {
  seed: 1,
  analog: 40,
  discrete: 6,
  string: 4,
  analogRateMs: 1_000,
  discreteRateMs: 10_000,
  stringRateMs: 300_000,
  historyMs: 7 * 86_400_000,
  systemTags: true,
};

const SITES = ["Hamburg", "Lyon", "Porto", "Gdansk"];
const MACHINES = ["Press", "Oven", "Mixer", "Filler", "Pump", "Conveyor"];
/**
 * Analog sensors. `interpolation` is AnalogTag.InterpolationType (0 stair-step for values that
 * hold between changes: a pressure set in steps, a meter's reading; 254 the system default,
 * linear for real values); `divisor` is the engineering unit's IntegralDivisor, so an integral
 * of a rate comes out as a quantity (m3/h over seconds ÷ 3600 = m3; rpm ÷ 60 = revolutions).
 */
const ANALOG = [
  { sensor: "Temperature", unit: "°C", min: 0, max: 150, interpolation: 254, divisor: 1 },
  { sensor: "Pressure", unit: "bar", min: 0, max: 10, interpolation: 0, divisor: 1 },
  { sensor: "Speed", unit: "rpm", min: 0, max: 3000, interpolation: 254, divisor: 60 },
  { sensor: "Flow", unit: "m3/h", min: 0, max: 100, interpolation: 254, divisor: 3600 },
  { sensor: "Energy", unit: "kWh", min: 0, max: 1e9, interpolation: 0, divisor: 1 },
  { sensor: "Level", unit: "%", min: 0, max: 100, interpolation: 254, divisor: 1 },
];
export const RECIPES = ["Wheat-500g", "Rye-750g", "Spelt-1kg", "Oat-500g", "Cleaning"];
const TICKS_PER_MS = 10_000n;

/** A 32-bit mix of three numbers (splitmix-style), deterministic across runs. */
export function hash(a: number, b: number, c: number): number {
  let h = (a * 0x9e3779b1) ^ (b * 0x85ebca77) ^ (c * 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function machineName(m: number): { site: string; line: string; machine: string } {
  return {
    site: SITES[m % SITES.length]!,
    line: `L${Math.floor(m / SITES.length) % 4 + 1}`,
    machine: `${MACHINES[m % MACHINES.length]}${String(m + 1).padStart(2, "0")}`,
  };
}

export interface GeneratedTag {
  meta: TagMeta;
  series: Series;
}

/** The plant's tags, each with its on-demand series. `origin` is the first stored instant (UTC ticks). */
export function generatePlant(options: PlantOptions, origin: bigint): GeneratedTag[] {
  const out: GeneratedTag[] = [];
  let key = 1;
  const add = (
    name: string,
    kind: TagKind,
    unit: string,
    min: number,
    max: number,
    rateMs: number,
    f: ValueFn,
    subMs: boolean,
    analog: { interpolation: number; divisor: number } = { interpolation: 0, divisor: 1 },
  ) => {
    const id = key;
    const meta: TagMeta = {
      name,
      key: key++,
      kind,
      description: `${name.split(".").slice(-2).join(" ")} (${kind})`,
      unit,
      minEU: min,
      maxEU: max,
      rateMs,
      interpolation: analog.interpolation,
      integralDivisor: analog.divisor,
    };
    const phase = subMs ? BigInt(hash(options.seed, id, 7) % 9_999 + 1) : 0n;
    out.push({
      meta,
      series: generatedSeries(options.seed, id, origin, BigInt(rateMs) * TICKS_PER_MS, phase, f),
    });
  };
  if (options.systemTags) {
    add(
      "SysTimeSec",
      "analog",
      "s",
      0,
      59,
      1_000,
      (_, t) => Number((t / 10_000_000n) % 60n),
      false,
    );
    add(
      "SysPerfCPUTotal",
      "analog",
      "%",
      0,
      100,
      10_000,
      (h) => (h % 1000) / 10,
      false,
      { interpolation: 254, divisor: 1 },
    );
  }
  if (options.shape === "realistic") return [...out, ...realisticPlant(options, origin, key)];
  for (let i = 0; i < options.analog; i++) {
    const m = machineName(Math.floor(i / 4));
    const s = ANALOG[(i % 4 + Math.floor(i / 4)) % ANALOG.length]!;
    add(
      `${m.site}.${m.line}.${m.machine}.${s.sensor}`,
      "analog",
      s.unit,
      s.min,
      s.max,
      options.analogRateMs,
      analogFn(s.sensor, i),
      i % 10 === 3,
      s,
    );
  }
  for (let i = 0; i < options.discrete; i++) {
    const m = machineName(Math.floor(i / 2));
    const alarm = i % 2 === 1;
    add(
      `${m.site}.${m.line}.${m.machine}.${alarm ? "Alarm" : "Running"}`,
      "discrete",
      "",
      0,
      1,
      options.discreteRateMs,
      (_, t) => {
        const period = Number(t / (600n * 10_000_000n));
        return alarm
          ? (hash(options.seed, i, period) % 20 === 0 ? 1 : 0)
          : (hash(options.seed, i, period) % 4 === 0 ? 0 : 1);
      },
      false,
    );
  }
  for (let i = 0; i < options.string; i++) {
    const m = machineName(i);
    add(
      `${m.site}.${m.line}.${m.machine}.Recipe`,
      "string",
      "",
      0,
      0,
      options.stringRateMs,
      (_, t) => {
        const period = Number(t / (7_200n * 10_000_000n));
        return RECIPES[hash(options.seed, i, period) % RECIPES.length]!;
      },
      false,
    );
  }
  return out;
}

/** A value from (per-point hash, time, point index); numbers for analog/discrete, text for string. */
type ValueFn = (h: number, t: bigint, k: bigint) => number | string;

function analogFn(sensor: string, i: number): ValueFn {
  const phase = i * 0.7;
  const noise = (h: number) => ((h % 2001) - 1000) / 1000;
  switch (sensor) {
    case "Temperature":
      return (h, t) =>
        round(
          70 + 10 * Math.sin(Number(t / 10_000_000n) * 2 * Math.PI / 21_600 + phase) +
            0.3 * noise(h),
        );
    case "Pressure":
      return (_, t) => 4 + (hash(i, Number(t / (900n * 10_000_000n)), 3) % 400) / 100;
    case "Speed":
      return (_, t) => Number((t / 10_000_000n + BigInt(i * 37)) % 600n) * 5;
    case "Flow":
      return (h, t) =>
        round(50 + 20 * Math.sin(Number(t / 10_000_000n) * 2 * Math.PI / 3_600 + phase) + noise(h));
    case "Energy":
      return (_, __, k) => round(1_000 * (i + 1) + Number(k) * 0.05);
    default:
      return (_, t) => {
        const x = Number((t / 10_000_000n + BigInt(i * 101)) % 7_200n) / 3_600;
        return round(x < 1 ? x * 100 : (2 - x) * 100);
      };
  }
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function generatedSeries(
  seed: number,
  id: number,
  origin: bigint,
  rate: bigint,
  phase: bigint,
  f: ValueFn,
): Series {
  const start = origin + phase;
  const pointAt = (k: bigint): Point => {
    const t = start + k * rate;
    const window = Number(t / (300n * 10_000_000n)); // 5-minute windows
    const h = hash(seed, id, Number(k % 4_294_967_296n));
    if (hash(seed ^ 0x5bd1, id, window) % 400 === 0) {
      // A short outage: communication loss, or an instrument reporting NaN.
      return window % 2 === 0
        ? { t, value: null, text: null, quality: 1, qd: 24, opc: 24 }
        : { t, value: null, text: null, quality: 1, qd: 249, opc: 192 };
    }
    const v = f(h, t, k);
    return typeof v === "string"
      ? { t, value: null, text: v, quality: 0, qd: 192, opc: 192 }
      : { t, value: v, text: null, quality: 0, qd: 192, opc: 192 };
  };
  /** The first k whose time is > at (>= at when inclusive). */
  const firstK = (at: bigint, inclusive: boolean) => {
    if (at < start) return 0n;
    let k = (at - start) / rate;
    while (start + k * rate < at || (!inclusive && start + k * rate === at)) k++;
    return k;
  };
  return {
    *range(from, inclusive, to) {
      for (let k = firstK(from, inclusive); start + k * rate <= to; k++) yield pointAt(k);
    },
    lastAtOrBefore(at) {
      if (at < start) return undefined;
      return pointAt((at - start) / rate);
    },
  };
}
