/**
 * Planning: work units on a fixed UTC grid. A unit is a chunk of tags × a time window
 * `(from, to]`; its id names both, so a rerun with a relative start finds the same full
 * windows and skips the ones recorded as done.
 */
import { formatTicks, TICKS_PER_MS } from "./types.ts";
import type { TagInfo, Ticks } from "./types.ts";

export interface Unit {
  id: string;
  tags: TagInfo[];
  /** Exclusive start. */
  from: Ticks;
  /** Inclusive end. */
  to: Ticks;
}

/** Tag chunks of the configured size, in name order, so chunk membership is stable. */
export function chunkTags(tags: readonly TagInfo[], size: number): TagInfo[][] {
  const sorted = [...tags].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: TagInfo[][] = [];
  for (let i = 0; i < sorted.length; i += size) out.push(sorted.slice(i, i + size));
  return out;
}

async function chunkKey(tags: readonly TagInfo[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(tags.map((t) => t.name).join("\n")),
  );
  return hex(new Uint8Array(digest).slice(0, 6));
}

/** Lower-case hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Units covering [from, to]: windows on a grid of `windowMs` since the epoch; the first
 * starts one tick before `from` so a point exactly at `from` is included (reads are `(from, to]`).
 */
export async function planUnits(
  chunks: TagInfo[][],
  from: Ticks,
  to: Ticks,
  windowMs: number,
): Promise<Unit[]> {
  const w = BigInt(windowMs) * TICKS_PER_MS;
  const units: Unit[] = [];
  for (const tags of chunks) {
    const key = await chunkKey(tags);
    let start = from - 1n;
    while (start < to) {
      const grid = (start / w + 1n) * w;
      const end = grid < to ? grid : to;
      units.push({
        id: `${key}:${formatTicks(start + 1n)}/${formatTicks(end)}`,
        tags,
        from: start,
        to: end,
      });
      start = end;
    }
  }
  return units;
}
