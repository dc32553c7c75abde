/**
 * Durations in specs are text with units, `500ms`, `30s`, `5m`, `2h`, `7d`, `1w`, `1y` (365d), or a
 * sum of them such as `1h30m`. Bare numbers are rejected: "30" could be seconds or days.
 */
import { z } from "zod";
import { textFormats } from "./formats.ts";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;
const HINT = 'use a number with a unit such as "30s", "5m", "2h" or "7d"';

/** Milliseconds in `text`, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "") return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return Math.round(total);
}

/** A zod schema: duration text in, milliseconds out. */
export function duration(options: { min?: number } = {}) {
  const min = options.min ?? 0;
  return z.string({
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : `expected a duration (${HINT}), got ${JSON.stringify(issue.input)}`,
  }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `invalid duration ${JSON.stringify(text)}: ${HINT}`,
      });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({
        code: "custom",
        message: `duration ${JSON.stringify(text)} is too short: the minimum is ${
          formatDuration(min)
        }`,
      });
      return z.NEVER;
    }
    return ms;
  }).register(textFormats, {
    format: "duration",
    ...(min > 0 ? { min: formatDuration(min) } : {}),
  });
}

/** `90000` → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of ["d", "h", "m", "s", "ms"]) {
    const size = UNIT_MS[unit]!;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
