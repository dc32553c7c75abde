/**
 * Sizes in specs are text with a unit: `512KB`, `64MB`, `1GB` (powers of 1024, as memory is
 * counted; `KiB`/`MiB`/`GiB` are accepted too). Bare numbers are rejected: bytes or megabytes?
 */
import { z } from "zod";
import { textFormats } from "./formats.ts";

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)\s*$/i;
const HINT = 'use a number with a unit such as "512KB", "64MB" or "1GB"';

/** Bytes in `text`, or undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase().replace("i", "")]!);
}

/** A zod schema: size text in, bytes out. */
export function byteSize(options: { min?: number } = {}) {
  const min = options.min ?? 0;
  return z.string({
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : `expected a size (${HINT}), got ${JSON.stringify(issue.input)}`,
  }).transform((text, ctx) => {
    const bytes = parseSize(text);
    if (bytes === undefined) {
      ctx.addIssue({ code: "custom", message: `invalid size ${JSON.stringify(text)}: ${HINT}` });
      return z.NEVER;
    }
    if (bytes < min) {
      ctx.addIssue({
        code: "custom",
        message: `size ${JSON.stringify(text)} is too small: the minimum is ${
          Math.ceil(min / 1024 ** 2)
        }MB`,
      });
      return z.NEVER;
    }
    return bytes;
  }).register(textFormats, {
    format: "size",
    ...(min > 0 ? { min: `${Math.ceil(min / 1024 ** 2)}MB` } : {}),
  });
}
