/**
 * The engine's stages on in-memory plugins (tests/fakes): planning, watermarks, late data,
 * the retry budget, a crash between write and commit, a unit that keeps failing, shutdown.
 * The real engine, the real guard and pool; no historian, no store; milliseconds each.
 */
import assert from "node:assert/strict";
import { backfill } from "../engine/backfill.ts";
import { chunkTags, planUnits } from "../engine/plan.ts";
import { syncOnce } from "../engine/sync.ts";
import { parseTicks } from "../engine/types.ts";
import { advancedMarks, syncStart } from "../engine/watermarks.ts";
import { repair, verify } from "../engine/verify.ts";
import { fakeRig } from "./fakes/rig.ts";
import { createFakeSink } from "./fakes/sink.ts";
import { createFakeSource, reading } from "./fakes/source.ts";

const SECOND = 10_000_000n;
const HOUR = 3_600n * SECOND;
const T0 = parseTicks("2026-11-30T00:00:00Z");
const TAGS = ["A.Flow", "A.Temp", "B.Flow", "B.Temp", "C.Level"];

/** Five tags at 1 min over six hours, windows of one hour, chunks of two tags. */
function plant() {
  return createFakeSource(TAGS, T0 - 6n * HOUR, T0, 60n * SECOND);
}
const YAML = "chunking: {window: 1h, tags_per_query: 2, parallelism: 2, batch_rows: 100}\n";

function storedOnce(source: ReturnType<typeof plant>, sink: ReturnType<typeof createFakeSink>) {
  const expected = [...source.points.values()].flat().filter((r) => r.time <= source.now);
  assert.equal(sink.rows.size, expected.length, "every point stored once");
  for (const r of expected) assert.ok(sink.rows.has(`${r.tag}@${r.time}`), `${r.tag}@${r.time}`);
}

Deno.test("planUnits() cuts windows on the UTC grid, the first one tick before from", async () => {
  const tags = chunkTags(TAGS.map((name) => ({ name, type: "analog" as const })), 2);
  assert.deepEqual(tags.map((c) => c.map((t) => t.name)), [
    ["A.Flow", "A.Temp"],
    ["B.Flow", "B.Temp"],
    ["C.Level"],
  ]);
  const from = parseTicks("2026-11-30T00:30:00Z");
  const to = parseTicks("2026-11-30T03:00:00Z");
  const units = await planUnits(tags.slice(0, 1), from, to, 3_600_000);
  assert.deepEqual(units.map((u) => [u.from, u.to]), [
    [from - 1n, parseTicks("2026-11-30T01:00:00Z")],
    [parseTicks("2026-11-30T01:00:00Z"), parseTicks("2026-11-30T02:00:00Z")],
    [parseTicks("2026-11-30T02:00:00Z"), to],
  ]);
  assert.match(units[0]!.id, /^[0-9a-f]{12}:2026-11-30T00:30:00\.0000000Z\/2026-11-30T01:00:00/);
  const again = await planUnits(tags.slice(0, 1), from + 1n, to, 3_600_000);
  assert.deepEqual(again.slice(1).map((u) => u.id), units.slice(1).map((u) => u.id));
});

Deno.test("advancedMarks() moves only tags whose units all succeeded, never backwards", () => {
  const current = new Map([["a", 5n], ["b", 50n]]);
  assert.deepEqual(
    advancedMarks(["a", "b", "c", "d"], new Set(["d"]), current, 20n),
    new Map([["a", 20n], ["c", 20n]]),
  );
  assert.deepEqual(
    advancedMarks(["a", "b", "c"], new Set(), current, 20n, { onlyKnown: true }),
    new Map([["a", 20n]]),
  );
});

Deno.test("syncStart() reads from the oldest watermark minus the late window, not before the range", () => {
  assert.equal(syncStart([100n, 80n], 200n, 10n, 0n), 70n);
  assert.equal(syncStart([100n, 80n], 200n, 100n, 50n), 50n);
  assert.equal(syncStart([], 200n, 0n, 0n), 200n);
});

Deno.test("backfill stores every point once, records units and advances watermarks; a rerun reads nothing", async () => {
  const source = plant();
  const sink = createFakeSink();
  const rig = await fakeRig(source, sink, YAML);
  try {
    const tags = await source.discover();
    const state = await sink.state!.load();
    const report = await backfill(rig.ctx, tags, T0 - 6n * HOUR, T0, state);
    assert.deepEqual(report.failed, []);
    assert.equal(report.units, 21, "3 chunks × (6 hours + the instant at from)");
    assert.equal(report.rows, 5 * 360);
    storedOnce(source, sink);
    assert.equal(sink.minutes.size, 5 * 360, "each minute aggregated by the commit");
    assert.deepEqual((await sink.state!.load()).watermarks, new Map(TAGS.map((t) => [t, T0])));
    const reads = source.reads;
    const again = await backfill(rig.ctx, tags, T0 - 6n * HOUR, T0, await sink.state!.load());
    assert.equal(again.skipped, 21);
    assert.equal(source.reads, reads, "done units are not read again");
  } finally {
    await rig.close();
  }
});

Deno.test("sync reads up to the clock minus the safety lag and captures late points in the window", async () => {
  const source = plant();
  const sink = createFakeSink();
  const rig = await fakeRig(
    source,
    sink,
    `${YAML}sync: {safety_lag: 30s, late_data_window: 1h, late_data_every: 2}\n`,
  );
  try {
    const state = await sink.state!.load();
    await backfill(rig.ctx, await source.discover(), T0 - 6n * HOUR, T0, state);
    source.now = T0 + 10n * 60n * SECOND;
    for (const tag of TAGS) source.add(reading(tag, T0 + 5n * 60n * SECOND, 1));
    source.add(reading("A.Flow", T0 - 30n * 60n * SECOND + 1n, 7)); // late, behind the watermark
    const first = await syncOnce(rig.ctx, state);
    assert.equal(
      first!.rows,
      5 + 1,
      "new points and the late one (first sync re-reads the window)",
    );
    assert.equal(state.watermarks.get("A.Flow"), source.now - 30n * SECOND);
    source.add(reading("B.Flow", T0 - 20n * 60n * SECOND + 1n, 7)); // late again
    source.now += 60n * SECOND;
    const second = await syncOnce(rig.ctx, state);
    assert.equal(second!.rows, 0, "the second sync does not re-read the late window");
    const third = await syncOnce(rig.ctx, state);
    assert.equal(third!.rows, 1, "the third does");
    storedOnce(source, sink);
  } finally {
    await rig.close();
  }
});

Deno.test("a persistent store fault costs exactly the retry budget and no extra source reads", async () => {
  const source = createFakeSource(["A.Flow"], T0 - HOUR, T0, 60n * SECOND);
  const sink = createFakeSink();
  const rig = await fakeRig(source, sink, `${YAML}retry: {attempts: 5, unit_attempts: 4}\n`);
  try {
    sink.fail("write", Infinity);
    // One unit, (T0 - 1h, T0].
    const report = await backfill(rig.ctx, await source.discover(), T0 - HOUR + 1n, T0, {
      watermarks: new Map(),
      doneUnits: new Set(),
    });
    assert.equal(report.failed.length, 1);
    assert.equal(sink.calls.write, 5, "retry.attempts writes of the batch in hand");
    assert.equal(source.reads, 1, "the source was read once");
    assert.equal(sink.calls.commit, 0);
    const attempt = sink.attempts.write[0]!;
    assert.ok(
      sink.attempts.write.every((a) => a === attempt),
      "one attempt, its key on each write",
    );
    assert.deepEqual(sink.attempts.released, [attempt], "what the sink holds of it is released");
    const backoffs = rig.lines.filter((l) => l.includes('"what":"writing 60 readings"'));
    assert.equal(backoffs.length, 4, "a backoff between attempts");
    assert.ok(
      rig.lines.some((l) => l.includes("sink circuit open after repeated failures; waiting")),
      "the store's circuit opened, and later calls waited it out instead of failing fast",
    );
    assert.deepEqual((await sink.state!.load()).watermarks, new Map(), "no watermark moved");
  } finally {
    await rig.close();
  }
});

Deno.test("a unit whose source keeps failing is read unit_attempts times, then reported; the others finish", async () => {
  const source = plant();
  const sink = createFakeSink();
  const rig = await fakeRig(
    source,
    sink,
    `${YAML}retry: {unit_attempts: 3}\nchunking: {window: 6h, tags_per_query: 5, parallelism: 1}\n`
      .replace(YAML, ""),
  );
  try {
    source.failReads(Infinity);
    // One unit, (T0 - 6h, T0].
    const report = await backfill(rig.ctx, await source.discover(), T0 - 6n * HOUR + 1n, T0, {
      watermarks: new Map(),
      doneUnits: new Set(),
    });
    assert.equal(report.failed.length, 1);
    assert.equal(source.reads, 3);
    assert.equal(rig.ctx.health.errorCounts.get("backfill"), 3, "two retries and the failure");
    assert.equal(sink.runs.at(-1)?.status, "failed");
    source.failReads(0);
    const rerun = await backfill(
      rig.ctx,
      await source.discover(),
      T0 - 6n * HOUR,
      T0,
      await sink.state!.load(),
    );
    assert.deepEqual(rerun.failed, []);
    storedOnce(source, sink);
  } finally {
    await rig.close();
  }
});

Deno.test("a crash between write and commit leaves the unit to redo; the redo stores nothing twice", async () => {
  const source = plant();
  const sink = createFakeSink();
  const rig = await fakeRig(source, sink, YAML);
  try {
    sink.fail("commit", 1, false); // the process dies after writing, before committing
    // (T0 - 6h, T0]: 3 chunks × 6 windows, each with readings.
    const tags = await source.discover();
    const first = await backfill(rig.ctx, tags, T0 - 6n * HOUR + 1n, T0, await sink.state!.load());
    assert.equal(first.failed.length, 1);
    const written = sink.rows.size;
    const state = await sink.state!.load();
    assert.equal(state.doneUnits.size, 17, "the uncommitted unit is not recorded");
    const redo = await backfill(rig.ctx, tags, T0 - 6n * HOUR + 1n, T0, state);
    assert.equal(redo.done, 1);
    assert.equal(redo.rows, 0, "its readings were already stored");
    assert.equal(sink.fresh.at(-1), false, "the redo compares with what the crash left stored");
    // Each attempt writes and commits under a key of its own; the failed one was released.
    const failed = sink.attempts.released;
    assert.equal(failed.length, 1);
    assert.notEqual(sink.attempts.commit.at(-1), failed[0], "the redo is another attempt");
    assert.equal(sink.attempts.write.at(-1), sink.attempts.commit.at(-1));
    assert.equal(new Set(sink.attempts.commit).size, sink.attempts.commit.length);
    assert.ok(
      sink.fresh.slice(0, -1).some((f) => f),
      "first writes of empty ranges skip the comparison",
    );
    assert.equal(sink.rows.size, written);
    assert.equal(sink.minutes.size, 5 * 360, "and its commit computed the aggregates");
    storedOnce(source, sink);
  } finally {
    await rig.close();
  }
});

Deno.test("shutdown stops at a clean point: no unit starts after the signal, the run is partial", async () => {
  const source = plant();
  const sink = createFakeSink();
  const rig = await fakeRig(source, sink, YAML.replace("parallelism: 2", "parallelism: 1"));
  try {
    const write = sink.write.bind(sink);
    sink.write = (batch) => {
      if (sink.calls.write === 3) rig.stop.abort(new Error("stopping on SIGTERM"));
      return write(batch);
    };
    const report = await backfill(
      rig.ctx,
      await source.discover(),
      T0 - 6n * HOUR,
      T0,
      await sink.state!.load(),
    );
    assert.ok(report.done < report.units);
    assert.equal(sink.runs.at(-1)?.status, "partial");
    assert.deepEqual(
      (await sink.state!.load()).watermarks,
      new Map(),
      "no watermark on a partial run",
    );
  } finally {
    await rig.close();
  }
});

Deno.test("verify finds the windows whose stored counts differ; repair re-reads exactly those", async () => {
  const source = plant();
  const sink = createFakeSink();
  const rig = await fakeRig(source, sink, YAML);
  try {
    const tags = await source.discover();
    await backfill(rig.ctx, tags, T0 - 6n * HOUR, T0, await sink.state!.load());
    const clean = await verify(rig.ctx, tags, T0 - 6n * HOUR, T0, 3_600_000);
    assert.equal(clean.differ.length, 0);
    assert.equal(clean.compared, 5 * 7);
    for (const key of [...sink.rows.keys()]) {
      const r = sink.rows.get(key)!;
      if (r.tag === "B.Temp" && r.time > T0 - 3n * HOUR && r.time <= T0 - 2n * HOUR) {
        sink.rows.delete(key);
      }
    }
    const found = await verify(rig.ctx, tags, T0 - 6n * HOUR, T0, 3_600_000);
    assert.deepEqual(found.differ, [
      { tag: "B.Temp", from: T0 - 3n * HOUR, to: T0 - 2n * HOUR, historian: 60, stored: 0 },
    ]);
    const reads = source.reads;
    const fixed = await repair(rig.ctx, tags, found.differ);
    assert.equal(fixed.rows, 60);
    assert.equal(source.reads - reads, 1, "one window read again");
    assert.equal((await verify(rig.ctx, tags, T0 - 6n * HOUR, T0, 3_600_000)).differ.length, 0);
  } finally {
    await rig.close();
  }
});
