/**
 * The engine's own vocabulary. Plugins speak these types, never a driver's, so a new historian
 * or store only has to translate at its edge.
 *
 * Time is UTC everywhere and kept in 100-ns ticks since the Unix epoch (a bigint), because the
 * Historian stores datetime2(7) and a JS Date (1 ms) cannot hold it: a watermark rounded to the
 * millisecond would duplicate or skip boundary points.
 */

/** 100-ns ticks since 1970-01-01T00:00:00Z. */
export type Ticks = bigint;

export const TICKS_PER_MS = 10_000n;

/** A half-open time range `(from, to]`: exclusive start, inclusive end, so adjacent windows never overlap. */
export interface TimeWindow {
  from: Ticks;
  to: Ticks;
}

export type TagType = "analog" | "discrete" | "string";

/** A tag as the source describes it; `unit`, `min` and `max` feed the asset model. */
export interface TagInfo {
  name: string;
  type: TagType;
  description?: string;
  unit?: string;
  min?: number;
  max?: number;
  /** Source-specific per-tag values (the Historian's wwTagKey), passed on with its readings. */
  fields?: Record<string, unknown>;
}

/** Quality in the engine's terms, whatever the historian: OPC's three classes. */
export type Quality = "good" | "uncertain" | "bad";

/**
 * One stored historian value, in no historian's dialect. `value` holds numbers (analog,
 * discrete 0/1), `text` holds text (string tags); both are null on a gap marker. `quality` is
 * normalized; `qualityCode` is the source's own code (Wonderware's Quality 0/1/16, Ignition's
 * dataintegrity), kept so nothing is lost. What else a source knows travels in `fields`,
 * declared by the source so that specs can be checked.
 */
export interface Reading {
  tag: string;
  time: Ticks;
  value: number | null;
  text: string | null;
  quality: Quality;
  qualityCode: number | null;
  /** Source-specific per-row fields, addressed by tables as `fields.<name>`. */
  fields?: Record<string, unknown>;
}

/**
 * Readings streamed from a source to a sink. `fields` holds values that are the same for the
 * whole batch (for the Historian: the query options it echoes back), so they cost nothing per row.
 */
export interface ReadingBatch {
  readings: Reading[];
  fields?: Record<string, unknown>;
}

/**
 * One row of the asset dimension: a tag, its place in the plant (the asset model's attributes:
 * machine, sensor_type, …; empty for a tag no rule matches) and what the source says of it.
 */
export interface AssetRow {
  tag: string;
  attributes: Record<string, string>;
  description: string;
  unit: string;
  min: number | null;
  max: number | null;
  type: TagType;
  /** The pipeline that discovered it (a site, once several feed one store). */
  source: string;
  /** For summaries: how an analog value moves between stored points (spec `summaries`). */
  interpolation?: Interpolation;
  /** For summaries: what the tag's Integral is divided by (its unit's IntegralDivisor). */
  integralDivisor?: number;
}

/** Linear: between two values the signal moves in a straight line; stair-step: it holds. */
export type Interpolation = "linear" | "stairstep";

export function ticksFromDate(date: Date): Ticks {
  return BigInt(date.getTime()) * TICKS_PER_MS;
}

export function dateFromTicks(ticks: Ticks): Date {
  return new Date(Number(ticks / TICKS_PER_MS));
}

const ISO =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an ISO-8601 instant keeping up to 7 fractional digits (digits past the 7th must be
 * zero). A date alone means midnight UTC; a date-time without `Z` or an offset is rejected,
 * because a local time is ambiguous on a plant that changes clocks.
 */
export function parseTicks(text: string): Ticks {
  const m = ISO.exec(text.trim());
  if (!m) {
    throw new RangeError(
      `Cannot parse "${text}": expected an ISO-8601 time such as 2024-01-31T00:00:00Z`,
    );
  }
  const [, date, hh, mm, ss = "00", frac = "", zone] = m;
  if (hh !== undefined && zone === undefined) {
    throw new RangeError(
      `Cannot parse "${text}": add "Z" or an offset such as +01:00; local times are ambiguous`,
    );
  }
  if (/[1-9]/.test(frac.slice(7))) {
    throw new RangeError(`Cannot parse "${text}": more precise than 100 ns`);
  }
  const base = Date.parse(`${date}T${hh ?? "00"}:${mm ?? "00"}:${ss}${normalizeZone(zone)}`);
  if (Number.isNaN(base)) throw new RangeError(`Cannot parse "${text}": not a valid date or time`);
  return BigInt(base) * TICKS_PER_MS + BigInt(frac.slice(0, 7).padEnd(7, "0"));
}

function normalizeZone(zone: string | undefined): string {
  if (!zone || zone === "Z") return "Z";
  return zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

/** `2024-01-31T12:00:00.1234567Z`: fixed width, so text order equals time order. */
export function formatTicks(ticks: Ticks): string {
  const ms = ticks / TICKS_PER_MS;
  const rest = ticks - ms * TICKS_PER_MS;
  const floorMs = rest < 0n ? ms - 1n : ms;
  const sub = rest < 0n ? rest + TICKS_PER_MS : rest;
  const iso = new Date(Number(floorMs)).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, 23)}${sub.toString().padStart(4, "0")}Z`;
}

/**
 * One row of AVEVA's AnalogSummaryHistory, under its column names (the engine's summaries keep
 * the Historian's, whatever the source): one analog tag over one cycle [StartDateTime,
 * EndDateTime). Values are in the tag's unit; PercentGood is 0–100.
 */
export interface AnalogSummaryRow {
  TagName: string;
  StartDateTime: Ticks;
  EndDateTime: Ticks;
  OPCQuality: number | null;
  PercentGood: number | null;
  First: number | null;
  FirstDateTime: Ticks | null;
  Last: number | null;
  LastDateTime: Ticks | null;
  Minimum: number | null;
  MinDateTime: Ticks | null;
  Maximum: number | null;
  MaxDateTime: Ticks | null;
  Average: number | null;
  StdDev: number | null;
  Integral: number | null;
  ValueCount: number | null;
}

/**
 * One row of AVEVA's StateSummaryHistory: one discrete or string tag, cycle and state (Value the
 * numeric state, NULL for text; vValue the state as text). Times in milliseconds, percent 0–100.
 */
export interface StateSummaryRow {
  TagName: string;
  StartDateTime: Ticks;
  EndDateTime: Ticks;
  Value: number | null;
  vValue: string | null;
  OPCQuality: number | null;
  StateCount: number | null;
  ContainedStateCount: number | null;
  StateTimeMin: number | null;
  StateTimeMax: number | null;
  StateTimeAvg: number | null;
  StateTimeTotal: number | null;
  StateTimeMinContained: number | null;
  StateTimeMaxContained: number | null;
  StateTimeAvgContained: number | null;
  StateTimeTotalContained: number | null;
  StateTimePercent: number | null;
}

/** The summaries of some tags over some cycles of one resolution. */
export interface Summaries {
  analog: AnalogSummaryRow[];
  state: StateSummaryRow[];
}
