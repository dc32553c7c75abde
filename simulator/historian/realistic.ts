/**
 * The realistic plant (`shape: realistic`): history shaped like what a Historian really stores,
 * for benchmarks whose figures depend on the data (bytes on disk per reading, above all). The
 * demo plant stores every tag on a fixed grid with six-decimal values; a plant's Historian does
 * not:
 *
 * - each sensor reads with a fixed number of decimals (a temperature to 0.1 °C, a pressure to
 *   0.01 bar, a speed to 1 rpm);
 * - it is scanned at its own rate, from 1 s (pressures, flows, currents) to 5 minutes (ambient
 *   humidity), and a scan is stored only when its value moved past the tag's deadband since the
 *   last stored value (AVEVA's delta storage with a value deadband); counters store every scan;
 * - half the tags are time-stamped by an I/O server, a few milliseconds after the scan (jitter at
 *   1 ms), the others by the device, exactly on the scan; a few carry sub-millisecond offsets;
 * - discrete and string tags are stored only when their state changes.
 *
 * A tag's stored points are computed on demand like the demo's: a scan is kept at least every
 * 15 minutes (a forced storage, as an anchor), so the points around any instant are found by
 * walking at most that far, and a year of history costs no memory.
 */
import type { Point, Series, TagMeta } from "./series.ts";
import type { GeneratedTag, PlantOptions } from "./plant.ts";
import { hash, machineName, RECIPES } from "./plant.ts";

const TICKS_PER_MS = 10_000n;
/** A stored scan at least this often: where a walk through a tag's scans may start. */
const ANCHOR_MS = 15 * 60_000;

/** A sensor's reading: the process value at `s` seconds, before noise and rounding. */
type Signal = (s: number, tag: number) => number;

interface Profile {
  sensor: string;
  unit: string;
  min: number;
  max: number;
  decimals: number;
  /** A scan is stored when it moved more than this since the last stored value (0: any change). */
  deadband: number;
  scanMs: number;
  /** Standard deviation of the measurement noise, in the unit. */
  noise: number;
  interpolation: number;
  divisor: number;
  signal: Signal;
}

const TAU = 2 * Math.PI;
/** A level held for `windowS` seconds, drawn per window: a setpoint changed by operators. */
const held = (s: number, tag: number, windowS: number, steps: number) =>
  hash(tag, Math.floor(s / windowS), 11) % steps;

const PROFILES: Profile[] = [
  {
    sensor: "Temperature",
    unit: "°C",
    min: 0,
    max: 150,
    decimals: 1,
    deadband: 0.1,
    scanMs: 5_000,
    noise: 0.06,
    interpolation: 254,
    divisor: 1,
    signal: (s, i) => 65 + 8 * Math.sin(TAU * s / 21_600 + i) + 1.5 * Math.sin(TAU * s / 1_380 + i),
  },
  {
    sensor: "Pressure",
    unit: "bar",
    min: 0,
    max: 10,
    decimals: 2,
    deadband: 0.02,
    scanMs: 1_000,
    noise: 0.008,
    interpolation: 0,
    divisor: 1,
    signal: (s, i) => 3 + held(s, i, 1_200, 40) / 10 + 0.04 * Math.sin(TAU * s / 90 + i),
  },
  {
    sensor: "Flow",
    unit: "m3/h",
    min: 0,
    max: 100,
    decimals: 1,
    deadband: 0.2,
    scanMs: 1_000,
    noise: 0.2,
    interpolation: 254,
    divisor: 3600,
    signal: (s, i) => 40 + 12 * Math.sin(TAU * s / 3_600 + i) + 3 * Math.sin(TAU * s / 420 + i),
  },
  {
    sensor: "Speed",
    unit: "rpm",
    min: 0,
    max: 3000,
    decimals: 0,
    deadband: 3,
    scanMs: 1_000,
    noise: 1.2,
    interpolation: 254,
    divisor: 60,
    signal: (s, i) => 1_200 + 50 * held(s, i, 1_800, 13),
  },
  {
    sensor: "Level",
    unit: "%",
    min: 0,
    max: 100,
    decimals: 1,
    deadband: 0.5,
    scanMs: 10_000,
    noise: 0.1,
    interpolation: 254,
    divisor: 1,
    signal: (s, i) => {
      const x = ((s + i * 977) % 7_200) / 3_600; // fills for an hour, drains for an hour
      return 20 + 60 * (x < 1 ? x : 2 - x);
    },
  },
  {
    sensor: "Energy",
    unit: "kWh",
    min: 0,
    max: 1e9,
    decimals: 1,
    deadband: 0,
    scanMs: 60_000,
    noise: 0,
    interpolation: 0,
    divisor: 1,
    signal: (s, i) => 10_000 * (i + 1) + s * (50 + (i % 7) * 15) / 3_600, // a meter at 50–140 kW
  },
  {
    sensor: "Vibration",
    unit: "mm/s",
    min: 0,
    max: 50,
    decimals: 2,
    deadband: 0.05,
    scanMs: 1_000,
    noise: 0.08,
    interpolation: 254,
    divisor: 1,
    signal: (s, i) => 2.5 + 0.8 * Math.sin(TAU * s / 2_700 + i),
  },
  {
    sensor: "Valve",
    unit: "%",
    min: 0,
    max: 100,
    decimals: 1,
    deadband: 0.5,
    scanMs: 2_000,
    noise: 0.25,
    interpolation: 254,
    divisor: 1,
    signal: (s, i) => 50 + 15 * Math.sin(TAU * s / 1_200 + i),
  },
  {
    sensor: "Current",
    unit: "A",
    min: 0,
    max: 400,
    decimals: 1,
    deadband: 0.3,
    scanMs: 1_000,
    noise: 0.3,
    interpolation: 254,
    divisor: 1,
    signal: (s, i) => 80 + 20 * held(s, i, 600, 5) + 2 * Math.sin(TAU * s / 300 + i),
  },
  {
    sensor: "Humidity",
    unit: "%",
    min: 0,
    max: 100,
    decimals: 0,
    deadband: 1,
    scanMs: 300_000,
    noise: 0.4,
    interpolation: 254,
    divisor: 1,
    signal: (s, i) => 45 + 10 * Math.sin(TAU * s / 86_400 + i),
  },
];

/** What a scan reads: a point without its time. */
type Reading = Omit<Point, "t">;

/** How a tag's scans are taken and which are kept. */
interface Scan {
  /** Scan period and the first scan's instant (ticks). */
  period: bigint;
  start: bigint;
  /** Largest I/O-server delay, in ms (0: device time stamps). */
  jitterMs: number;
  /** What scan `k` reads at `ms` (ms since 1970; the series adds the exact time if stored). */
  read(k: number, ms: number): Reading;
  /** Whether `p` is stored after `last`, the last stored reading. */
  changed(p: Reading, last: Reading): boolean;
}

/** The realistic plant's tags, each with its on-demand series from `origin` (UTC ticks). */
export function realisticPlant(
  options: PlantOptions,
  origin: bigint,
  firstKey = 1,
): GeneratedTag[] {
  const out: GeneratedTag[] = [];
  let key = firstKey;
  const add = (meta: Omit<TagMeta, "key" | "description">, scan: (id: number) => Scan) => {
    const id = key++;
    const description = `${meta.name.split(".").slice(-2).join(" ")} (${meta.kind})`;
    out.push({ meta: { ...meta, key: id, description }, series: storedSeries(scan(id)) });
  };
  const seed = options.seed;
  for (let i = 0; i < options.analog; i++) {
    const m = machineName(Math.floor(i / 4));
    const p = PROFILES[(i % 4 + Math.floor(i / 4) * 3) % PROFILES.length]!;
    add({
      name: `${m.site}.${m.line}.${m.machine}.${p.sensor}`,
      kind: "analog",
      unit: p.unit,
      minEU: p.min,
      maxEU: p.max,
      rateMs: 0, // delta storage
      interpolation: p.interpolation,
      integralDivisor: p.divisor,
    }, (id) => analogScan(seed, id, i, origin, p));
  }
  for (let i = 0; i < options.discrete; i++) {
    const m = machineName(Math.floor(i / 2));
    const alarm = i % 2 === 1;
    const name = `${m.site}.${m.line}.${m.machine}.${alarm ? "Alarm" : "Running"}`;
    add(
      {
        name,
        kind: "discrete",
        unit: "",
        minEU: 0,
        maxEU: 1,
        rateMs: 0,
        interpolation: 0,
        integralDivisor: 1,
      },
      (id) =>
        stateScan(seed, id, origin, 1_000, (ms) => {
          const period = Math.floor(ms / 600_000);
          const h = hash(seed, i, period);
          return alarm ? (h % 20 === 0 ? 1 : 0) : (h % 4 === 0 ? 0 : 1);
        }),
    );
  }
  for (let i = 0; i < options.string; i++) {
    const m = machineName(i);
    add(
      {
        name: `${m.site}.${m.line}.${m.machine}.Recipe`,
        kind: "string",
        unit: "",
        minEU: 0,
        maxEU: 0,
        rateMs: 0,
        interpolation: 0,
        integralDivisor: 1,
      },
      (id) =>
        stateScan(seed, id, origin, 10_000, (ms) => {
          const period = Math.floor(ms / 7_200_000);
          return RECIPES[hash(seed, i, period) % RECIPES.length]!;
        }),
    );
  }
  return out;
}

/** Gaussian-ish noise in [-3, 3] standard deviations from a hash (three uniforms summed). */
function noiseOf(h: number): number {
  const u = (x: number) => (x & 0x3ff) / 0x3ff - 0.5;
  return (u(h) + u(h >>> 10) + u(h >>> 20)) * 2;
}

/** A short outage, per 5-minute window: communication loss, or an instrument reporting NaN. */
function outage(seed: number, id: number, ms: number): Reading | undefined {
  const window = Math.floor(ms / 300_000);
  if (hash(seed ^ 0x5bd1, id, window) % 400 !== 0) return undefined;
  return window % 2 === 0
    ? { value: null, text: null, quality: 1, qd: 24, opc: 24 }
    : { value: null, text: null, quality: 1, qd: 249, opc: 192 };
}

function analogScan(seed: number, id: number, i: number, origin: bigint, p: Profile): Scan {
  const scale = 10 ** p.decimals;
  const h0 = hash(seed, id, 5);
  // Device time stamps on a phase of their own; an I/O server's a few ms late, at 1 ms.
  const offsetMs = h0 % p.scanMs % 1_000;
  const subMs = i % 10 === 3 ? BigInt(hash(seed, id, 7) % 9_999 + 1) : 0n;
  const period = BigInt(p.scanMs) * TICKS_PER_MS;
  return {
    period,
    start: origin + BigInt(offsetMs) * TICKS_PER_MS + subMs,
    jitterMs: (h0 >>> 12) % 2 === 0 ? Math.min(20, p.scanMs / 2 - 1) : 0,
    read(k, ms) {
      const cut = outage(seed, id, ms);
      if (cut) return cut;
      const v = p.signal(ms / 1_000, i) + p.noise * noiseOf(hash(seed, id, k));
      const value = Math.round(v * scale) / scale;
      return { value: Object.is(value, -0) ? 0 : value, text: null, quality: 0, qd: 192, opc: 192 };
    },
    changed(pt, last) {
      if (pt.value === null || last.value === null) {
        return pt.value !== last.value || pt.qd !== last.qd;
      }
      // Compared in the tag's decimals, so 0.1 + 0.2 is no change past a deadband of 0.3.
      return Math.round(Math.abs(pt.value - last.value) * scale) > Math.round(p.deadband * scale);
    },
  };
}

/** A discrete or string tag scanned every `scanMs`, stored when its state changes. */
function stateScan(
  seed: number,
  id: number,
  origin: bigint,
  scanMs: number,
  state: (ms: number) => number | string,
): Scan {
  return {
    period: BigInt(scanMs) * TICKS_PER_MS,
    start: origin,
    jitterMs: 0,
    read(_, ms) {
      const cut = outage(seed, id, ms);
      if (cut) return cut;
      const v = state(ms);
      return typeof v === "string"
        ? { value: null, text: v, quality: 0, qd: 192, opc: 192 }
        : { value: v, text: null, quality: 0, qd: 192, opc: 192 };
    },
    changed: (p, last) => p.value !== last.value || p.text !== last.text || p.qd !== last.qd,
  };
}

/**
 * The stored points of a scanned tag. Scan k is taken at start + k × period (+ its I/O delay);
 * every `anchor`th scan is stored whatever its value, so whether a scan is stored is decided by
 * walking from the anchor before it.
 */
function storedSeries(scan: Scan): Series {
  const { period, start, jitterMs } = scan;
  const periodMs = Number(period / TICKS_PER_MS);
  const startMs = Number(start / TICKS_PER_MS);
  const anchor = Math.max(1, Math.round(ANCHOR_MS / periodMs));
  const salt = Number(start % 1_000_003n);
  const delayOf = (k: number) => jitterMs > 0 ? hash(k, salt, 13) % (jitterMs + 1) : 0;
  const timeOf = (k: number) => start + BigInt(k) * period + BigInt(delayOf(k)) * TICKS_PER_MS;
  /** The last scan taken at or before `at` (−1: none). */
  const scanAt = (at: bigint) => {
    if (at < start) return -1;
    let k = Number((at - start) / period);
    if (timeOf(k) > at) k--; // its I/O delay put it after `at`
    return k;
  };
  /** Stored scans from `from` on, walking from the anchor before it. */
  function* stored(from: number): Generator<Point> {
    let k = from - from % anchor;
    let last = scan.read(k, startMs + k * periodMs + delayOf(k));
    if (k >= from) yield { t: timeOf(k), ...last };
    for (k++;; k++) {
      const p = scan.read(k, startMs + k * periodMs + delayOf(k));
      if (k % anchor !== 0 && !scan.changed(p, last)) continue;
      last = p;
      if (k >= from) yield { t: timeOf(k), ...p };
    }
  }
  return {
    *range(from, inclusive, to) {
      for (const p of stored(Math.max(0, scanAt(from)))) {
        if (p.t > to) return;
        if (p.t > from || (inclusive && p.t === from)) yield p;
      }
    },
    lastAtOrBefore(at) {
      const k = scanAt(at);
      if (k < 0) return undefined;
      let last: Point | undefined;
      for (const p of stored(k - k % anchor)) {
        if (p.t > at) break;
        last = p;
      }
      return last;
    },
  };
}
