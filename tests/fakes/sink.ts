/**
 * An in-memory store for the engine's own tests, with the semantics the sink contract
 * demands: a reading is stored once per (tag, time), identical ones are skipped, changed ones
 * replace; a commit recomputes the unit's per-minute counts and records the unit; state is
 * kept. Faults: writes or commits that fail a number of times (or always), retriable or not.
 */
import { PluginError } from "../../engine/mod.ts";
import type { PipelineState, Reading, RunRecord, Sink, Ticks } from "../../engine/mod.ts";

export interface FakeSink extends Sink {
  rows: Map<string, Reading>;
  /** Per tag and minute (ms since the epoch): readings, as a commit last computed them. */
  minutes: Map<string, number>;
  runs: RunRecord[];
  calls: { write: number; commit: number };
  /** Whether each write was told its unit's range held nothing (no comparison needed). */
  fresh: boolean[];
  /** The unit attempt of each write and each commit, and the attempts released. */
  attempts: { write: (string | undefined)[]; commit: (string | undefined)[]; released: string[] };
  /** The next `n` calls of `what` fail (Infinity: all); `retriable` says how. */
  fail(what: "write" | "commit", n: number, retriable?: boolean): void;
}

const MINUTE = 600_000_000n;

export function createFakeSink(): FakeSink {
  const rows = new Map<string, Reading>();
  const minutes = new Map<string, number>();
  const state: PipelineState = { watermarks: new Map(), doneUnits: new Set() };
  const faults = { write: { n: 0, retriable: true }, commit: { n: 0, retriable: true } };
  const maybeFail = (what: "write" | "commit") => {
    const f = faults[what];
    if (f.n <= 0) return;
    f.n--;
    throw new PluginError("sink-fake", `${what} failed`, {
      retriable: f.retriable,
      reason: "connection",
    });
  };
  const sink: FakeSink = {
    rows,
    minutes,
    runs: [],
    calls: { write: 0, commit: 0 },
    fresh: [],
    attempts: { write: [], commit: [], released: [] },
    fail: (what, n, retriable = true) => (faults[what] = { n, retriable }),
    release: (unit) => void sink.attempts.released.push(unit),
    prepare: () => Promise.resolve(),
    setAssets: () => Promise.resolve(),
    write(batch, options) {
      sink.calls.write++;
      sink.fresh.push(options?.fresh === true);
      sink.attempts.write.push(options?.unit);
      maybeFail("write");
      let written = 0;
      for (const r of batch.readings) {
        const key = `${r.tag}@${r.time}`;
        const stored = rows.get(key);
        if (stored && JSON.stringify(stored, big) === JSON.stringify(r, big)) continue;
        rows.set(key, r);
        written++;
      }
      return Promise.resolve({ written, skipped: batch.readings.length - written });
    },
    commit(unit) {
      sink.calls.commit++;
      sink.attempts.commit.push(unit.unit);
      maybeFail("commit");
      const tags = new Set(unit.tags);
      for (const r of rows.values()) {
        if (!tags.has(r.tag) || r.time <= unit.window.from || r.time > unit.window.to) continue;
        minutes.delete(minuteKey(r.tag, r.time));
      }
      for (const r of rows.values()) {
        if (!tags.has(r.tag) || r.time <= unit.window.from || r.time > unit.window.to) continue;
        const k = minuteKey(r.tag, r.time);
        minutes.set(k, (minutes.get(k) ?? 0) + 1);
      }
      if (unit.id !== undefined) state.doneUnits.add(unit.id);
      return Promise.resolve();
    },
    counts: {
      count(tags, window) {
        const wanted = new Set(tags);
        const counts = new Map<string, number>();
        for (const r of rows.values()) {
          if (!wanted.has(r.tag) || r.time <= window.from || r.time > window.to) continue;
          counts.set(r.tag, (counts.get(r.tag) ?? 0) + 1);
        }
        return Promise.resolve(counts);
      },
    },
    state: {
      load: () =>
        Promise.resolve({
          watermarks: new Map(state.watermarks),
          doneUnits: new Set(state.doneUnits),
        }),
      saveWatermarks(marks: Map<string, Ticks>) {
        for (const [tag, t] of marks) state.watermarks.set(tag, t);
        return Promise.resolve();
      },
      saveRun(run) {
        sink.runs.push(run);
        return Promise.resolve();
      },
    },
    close: () => Promise.resolve(),
  };
  return sink;
}

function minuteKey(tag: string, time: Ticks): string {
  return `${tag}@${time / MINUTE}`;
}

function big(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
}
