/**
 * An in-memory historian for the engine's own tests: tags with points, a clock, and faults
 * (reads that fail a number of times, or always). Reads honour `(from, to]`, time order and
 * the batch size, as the source contract demands.
 */
import { PluginError } from "../../engine/mod.ts";
import type { Reading, Source, TagInfo, Ticks } from "../../engine/mod.ts";

export interface FakeSource extends Source {
  points: Map<string, Reading[]>;
  now: Ticks;
  /** Reads started so far. */
  reads: number;
  /** The next `n` reads fail with a retriable error (Infinity: all of them). */
  failReads(n: number): void;
  add(reading: Reading): void;
}

export function reading(tag: string, time: Ticks, value: number): Reading {
  return { tag, time, value, text: null, quality: "good", qualityCode: 192, fields: { Row: 1 } };
}

/** `tags` tags with a point every `stepTicks` in `(from, to]`. */
export function createFakeSource(
  tags: string[],
  from: Ticks,
  to: Ticks,
  stepTicks: Ticks,
): FakeSource {
  const points = new Map<string, Reading[]>(tags.map((t) => [t, []]));
  for (const tag of tags) {
    for (let t = from + stepTicks; t <= to; t += stepTicks) {
      points.get(tag)!.push(reading(tag, t, Number(t % 1000n)));
    }
  }
  let failures = 0;
  const source: FakeSource = {
    points,
    now: to,
    reads: 0,
    failReads: (n) => (failures = n),
    add(r) {
      const list = points.get(r.tag) ?? [];
      list.push(r);
      list.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
      points.set(r.tag, list);
    },
    discover: () =>
      Promise.resolve([...points.keys()].map((name): TagInfo => ({ name, type: "analog" }))),
    async *read(tagList, window, options) {
      source.reads++;
      if (failures > 0) {
        failures--;
        throw new PluginError("source-fake", "connection reset", {
          retriable: true,
          reason: "connection",
        });
      }
      const size = options?.batchSize ?? 10_000;
      const all = tagList.flatMap((t) =>
        (points.get(t.name) ?? []).filter((r) => r.time > window.from && r.time <= window.to)
      ).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
      for (let i = 0; i < all.length; i += size) {
        yield { readings: all.slice(i, i + size), fields: { Batch: "b" } };
      }
    },
    count(tagList, window) {
      const counts = new Map<string, number>();
      for (const t of tagList) {
        const n = (points.get(t.name) ?? []).filter((r) =>
          r.time > window.from && r.time <= window.to
        )
          .length;
        if (n > 0) counts.set(t.name, n);
      }
      return Promise.resolve(counts);
    },
    serverTime: () => Promise.resolve(source.now),
    close: () => Promise.resolve(),
  };
  return source;
}
