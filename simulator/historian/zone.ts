/**
 * The Historian server's time zone. History is stored in UTC; without `wwTimeZone` it is
 * returned (and query bounds are read) in the server's local time, daylight saving included,
 * so the autumn hour happens twice. Zones are IANA names; a few Windows names that
 * `Runtime.dbo.TimeZone` lists are accepted too.
 */
import { TdsError } from "../tds/server.ts";

const TICKS_PER_MINUTE = 600_000_000n;
const TICKS_PER_HOUR = 36_000_000_000n;

const WINDOWS_NAMES: Record<string, string> = {
  "utc": "UTC",
  "coordinated universal time": "UTC",
  "gmt standard time": "Europe/London",
  "w. europe standard time": "Europe/Berlin",
  "central europe standard time": "Europe/Budapest",
  "romance standard time": "Europe/Paris",
  "eastern standard time": "America/New_York",
  "eastern daylight time": "America/New_York",
  "central standard time": "America/Chicago",
  "mountain standard time": "America/Denver",
  "pacific standard time": "America/Los_Angeles",
  "aus eastern standard time": "Australia/Sydney",
  "tokyo standard time": "Asia/Tokyo",
};

export interface Zone {
  /** The name queries use and results echo. */
  name: string;
  toLocal(utc: bigint): bigint;
  /** Local → UTC; in the repeated autumn hour the first occurrence, in the skipped spring hour the earlier offset. */
  toUtc(local: bigint): bigint;
}

const cache = new Map<string, Zone>();

export function zoneOf(name: string): Zone {
  const key = name.trim().toLowerCase();
  const cached = cache.get(key);
  if (cached) return cached;
  const iana = WINDOWS_NAMES[key] ?? name.trim();
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: iana,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
  } catch {
    throw new TdsError(
      7320,
      `Historian: the time zone '${name}' is not in Runtime.dbo.TimeZone.`,
      16,
    );
  }
  const offsets = new Map<bigint, bigint>();
  /** Offset (local − UTC) in force at a UTC instant; constant within a UTC quarter hour. */
  const offsetAt = (utc: bigint): bigint => {
    const bucket = utc / (TICKS_PER_MINUTE * 15n);
    let o = offsets.get(bucket);
    if (o === undefined) {
      const ms = Number(bucket * TICKS_PER_MINUTE * 15n / 10_000n);
      const p = Object.fromEntries(
        format.formatToParts(new Date(ms)).map((x) => [x.type, x.value]),
      );
      const local = Date.UTC(
        Number(p.year),
        Number(p.month) - 1,
        Number(p.day),
        Number(p.hour),
        Number(p.minute),
      );
      o = BigInt(local - ms) * 10_000n;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(bucket, o);
    }
    return o;
  };
  const zone: Zone = iana === "UTC" ? { name: name.trim(), toLocal: (t) => t, toUtc: (t) => t } : {
    name: name.trim(),
    toLocal: (utc) => utc + offsetAt(utc),
    toUtc(local) {
      const before = offsetAt(local - 3n * TICKS_PER_HOUR);
      const after = offsetAt(local + 3n * TICKS_PER_HOUR);
      const candidates = [local - before, local - after].filter((u) => u + offsetAt(u) === local);
      if (candidates.length === 0) return local - before; // skipped hour
      return candidates.reduce((a, b) => (a < b ? a : b));
    },
  };
  cache.set(key, zone);
  return zone;
}
