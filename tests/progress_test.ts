/**
 * Progress that talks, on in-memory plugins and a clock the test drives: a backfill whose one
 * unit takes 72 s of the engine's clock tells rows read, stored, rates and an ETA every 5 s
 * from inside the unit; a stop mid-unit ends the run at the next batch boundary with nothing
 * committed half-way, and the next run stores every reading exactly once. Runs in about a
 * second, whatever the clock says.
 */
import assert from "node:assert/strict";
import { backfill } from "../engine/backfill.ts";
import { createLogger } from "../engine/log.ts";
import type { Clock } from "../engine/plugin.ts";
import { logProgress } from "../engine/progress.ts";
import { parseTicks } from "../engine/types.ts";
import { fakeRig } from "./fakes/rig.ts";
import type { FakeRig } from "./fakes/rig.ts";
import { createFakeSink } from "./fakes/sink.ts";
import type { FakeSink } from "./fakes/sink.ts";
import { createFakeSource } from "./fakes/source.ts";
import type { FakeSource } from "./fakes/source.ts";

const SECOND = 10_000_000n;
const HOUR = 3_600n * SECOND;
const T0 = parseTicks("2026-11-30T00:00:00Z");
const FROM = T0 - 6n * HOUR;
/** One unit (a day's window holds the six hours), 18 batches of 100 readings. */
const YAML = "chunking: {window: 1d, tags_per_query: 50, parallelism: 1, batch_rows: 100}\n";
/** What the historian takes per batch, on the test's clock. */
const BATCH_MS = 4_000;

/** A clock that moves only when the test says so; sleeps wake in time order. */
function manualClock(start: number) {
  let now = start;
  const sleepers: { at: number; wake: () => void }[] = [];
  const clock: Clock & { advance(ms: number): Promise<void>; elapsed(): number } = {
    now: () => new Date(now),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const sleeper = { at: now + ms, wake: resolve };
        sleepers.push(sleeper);
        signal?.addEventListener("abort", () => {
          sleepers.splice(sleepers.indexOf(sleeper), 1);
          reject(signal.reason);
        }, { once: true });
      }),
    async advance(ms) {
      const target = now + ms;
      while (true) {
        sleepers.sort((a, b) => a.at - b.at);
        const next = sleepers[0];
        if (!next || next.at > target) break;
        sleepers.shift();
        now = next.at;
        next.wake();
        await settle();
      }
      now = target;
      await settle();
    },
    elapsed: () => now - start,
  };
  return clock;
}

/** Lets every promise and timer that is due run. */
async function settle() {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
}

interface Setup {
  source: FakeSource;
  sink: FakeSink;
  rig: FakeRig;
  clock: ReturnType<typeof manualClock>;
  lines: { at: number; msg: string; level: string; [k: string]: unknown }[];
}

/** The rig with the driven clock, log lines timed by it, and a historian slow per batch. */
async function setup(sink = createFakeSink()): Promise<Setup> {
  const source = createFakeSource(
    ["A.Flow", "A.Temp", "B.Flow", "B.Temp", "C.Level"],
    FROM,
    T0,
    60n * SECOND,
  );
  const rig = await fakeRig(source, sink, YAML);
  const clock = manualClock(Number(T0 / 10_000n));
  const started = clock.now().getTime();
  const lines: Setup["lines"] = [];
  const log = createLogger({
    format: "json",
    now: () => clock.now(),
    write: (l) => {
      const { time, ...fields } = JSON.parse(l);
      lines.push({ at: (Date.parse(time) - started) / 1000, ...fields });
    },
  });
  const read = source.read.bind(source);
  source.read = async function* (tags, window, options) {
    for await (const batch of read(tags, window, options)) {
      await clock.sleep(BATCH_MS, options?.signal);
      yield batch;
    }
  };
  Object.assign(rig.ctx, { clock, log, progress: logProgress(log) });
  return { source, sink, rig, clock, lines };
}

/** Runs a backfill of the six hours, driving the clock a second at a time until it ends. */
async function drive(s: Setup, until?: { at: number; then: () => void }) {
  let ended = false;
  const run = backfill(
    s.rig.ctx,
    await s.source.discover(),
    FROM,
    T0,
    await s.sink.state!.load(),
  ).finally(() => (ended = true));
  while (!ended && s.clock.elapsed() < 600_000) {
    await s.clock.advance(1_000);
    if (until && s.clock.elapsed() === until.at * 1000) until.then();
  }
  return { report: await run, seconds: s.clock.elapsed() / 1000 };
}

Deno.test("a backfill whose one unit takes 72 s logs read, stored, rate and ETA every 5 s from inside it", async () => {
  const s = await setup();
  try {
    const { report } = await drive(s);
    assert.equal(report.done, 1);
    assert.equal(report.rows, 1800);
    const progress = s.lines.filter((l) => l.msg === "backfill progress");
    const finished = s.lines.find((l) => l.msg === "backfill finished")!;
    assert.ok(finished.at >= 72, `the unit took ${finished.at} s of the clock`);
    const planned = s.lines.find((l) => l.msg === "backfill planned")!;
    const times = [planned.at, ...progress.map((l) => l.at), finished.at];
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i]! - times[i - 1]! <= 5, `silent from ${times[i - 1]} s to ${times[i]} s`);
    }
    assert.ok(progress.length >= 14, `${progress.length} progress lines in 72 s`);
    const inside = progress.filter((l) => l.units_done === 0);
    assert.equal(inside.length, progress.length, "every line came while the one unit ran");
    for (let i = 1; i < inside.length; i++) {
      assert.ok((inside[i]!.rows_read as number) > (inside[i - 1]!.rows_read as number));
    }
    // Some 40 s in: about half the readings, their rate, and an ETA near the 32 s left, told
    // from how far into the unit's window the readings have come.
    const mid = progress.find((l) => l.at - planned.at >= 40)!;
    const batches = Math.floor((mid.at - planned.at) * 1000 / BATCH_MS);
    // (a batch due at the same instant as the report may come just after it)
    assert.ok([batches * 100 - 100, batches * 100].includes(mid.rows_read as number));
    assert.equal(mid.rows_stored, mid.rows_read);
    assert.equal(mid.already_stored, 0);
    const rate = (mid.rows_read as number) / (mid.at - planned.at);
    assert.ok(Math.abs((mid.rows_per_s as number) - rate) <= 1, `${mid.rows_per_s} rows/s`);
    assert.equal(mid.running, 1);
    const left = 72 - (mid.at - planned.at);
    assert.ok(Math.abs((mid.eta_s as number) - left) <= 8, `ETA ${mid.eta_s} s, ${left} s left`);
    assert.equal(finished.level, "info");
    assert.equal(finished.rows_read, 1800);
    assert.equal(finished.rows_stored, 1800);
  } finally {
    await s.rig.close();
  }
});

Deno.test("a backfill that only re-reads reports its rows read and rate, with nothing stored", async () => {
  const first = await setup();
  await drive(first);
  await first.rig.close();
  // The same store, its units forgotten: every reading comes again and is found stored.
  first.sink.state!.load = () => Promise.resolve({ watermarks: new Map(), doneUnits: new Set() });
  const again = await setup(first.sink);
  try {
    const { report } = await drive(again);
    assert.equal(report.rows, 0);
    assert.equal(report.rowsRead, 1800);
    assert.equal(report.skippedRows, 1800);
    assert.ok(report.rowsPerSecond >= 24, `${report.rowsPerSecond} rows/s read`);
    assert.equal(report.storedPerSecond, 0);
    const finished = again.lines.find((l) => l.msg === "backfill finished")!;
    assert.equal(finished.rows_read, 1800);
    assert.equal(finished.rows_stored, 0);
    assert.equal(finished.already_stored, 1800);
    assert.ok((finished.rows_per_s as number) >= 24);
    const mid = again.lines.find((l) => l.msg === "backfill progress" && l.at >= 20)!;
    assert.ok((mid.already_stored as number) >= 400, `${mid.already_stored} already stored`);
    assert.equal(mid.rows_read, mid.already_stored);
    assert.equal(mid.rows_stored, 0);
    assert.ok((mid.rows_per_s as number) >= 20, `${mid.rows_per_s} rows/s read`);
  } finally {
    await again.rig.close();
  }
});

Deno.test("stopped mid-unit, a backfill ends at the next batch boundary; the next run stores every reading once", async () => {
  const s = await setup();
  try {
    const { report, seconds } = await drive(s, {
      at: 30,
      then: () => s.rig.stop.abort(new Error("stopping on SIGINT")),
    });
    assert.ok(seconds <= 30 + 5, `stopped ${seconds - 30} s after the signal`);
    assert.equal(report.done, 0);
    assert.equal(s.sink.runs.at(-1)?.status, "partial");
    assert.deepEqual(s.sink.attempts.commit, [], "nothing committed half-way");
    assert.equal(s.sink.attempts.released.length, 1, "what the sink held is released");
    assert.equal((await s.sink.state!.load()).doneUnits.size, 0);
    const finished = s.lines.find((l) => l.msg === "backfill finished")!;
    assert.equal(finished.stopped, true);
  } finally {
    await s.rig.close();
  }
  const next = await setup(s.sink);
  try {
    const { report } = await drive(next);
    assert.equal(report.done, 1);
    const expected = [...next.source.points.values()].flat();
    assert.equal(next.sink.rows.size, expected.length, "every reading stored once");
    for (const r of expected) assert.ok(next.sink.rows.has(`${r.tag}@${r.time}`));
    assert.equal(report.rowsRead, 1800);
  } finally {
    await next.rig.close();
  }
});

Deno.test("a sync with a failed unit is logged at warn", async () => {
  const s = await setup();
  try {
    await drive(s);
    s.source.now += HOUR;
    for (const tag of s.source.points.keys()) {
      for (let t = T0 + 60n * SECOND; t <= T0 + HOUR; t += 60n * SECOND) {
        s.source.add({ tag, time: t, value: 1, text: null, quality: "good", qualityCode: 192 });
      }
    }
    s.source.failReads(Infinity);
    const { syncOnce } = await import("../engine/sync.ts");
    const state = await s.sink.state!.load();
    let ended = false;
    const run = syncOnce(s.rig.ctx, state).finally(() => (ended = true));
    while (!ended) await s.clock.advance(1_000);
    await run;
    const finished = s.lines.find((l) => l.msg === "sync finished")!;
    assert.equal(finished.level, "warn");
    assert.ok((finished.failed as number) >= 1);
  } finally {
    await s.rig.close();
  }
});
