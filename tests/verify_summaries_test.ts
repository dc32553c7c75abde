/**
 * `verify --summaries` in the engine, on in-memory plugins and summaries (tests/fakes): what is
 * compared (windows on the UTC grid × 1 m, 1 h, 1 d cycles, cut at the watermark and, for
 * analog tags, at the last stored point), and that a corrupted or missing stored row is named.
 */
import assert from "node:assert/strict";
import { summariesProblem, verifySummaries } from "../engine/verify_summaries.ts";
import { parseTicks } from "../engine/types.ts";
import type { TagInfo } from "../engine/types.ts";
import { fakeRig } from "./fakes/rig.ts";
import { createFakeSink } from "./fakes/sink.ts";
import { createFakeSource } from "./fakes/source.ts";
import { createFakeSummaries } from "./fakes/summaries.ts";

const MINUTE = 600_000_000n;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;
const D0 = parseTicks("2026-11-28T00:00:00Z");
const TAGS: TagInfo[] = [
  { name: "A.Flow", type: "analog" },
  { name: "A.Pump", type: "discrete" },
  { name: "B.Flow", type: "analog" },
];
const RESOLUTIONS = [60_000, 3_600_000, 86_400_000];
const YAML = "chunking: {tags_per_query: 2, parallelism: 2}\n";

/** Three days of summaries, the engine on fakes, watermarks at the end of the second day. */
async function rig(marks = new Map(TAGS.map((t) => [t.name, D0 + 2n * DAY]))) {
  const fake = createFakeSummaries(TAGS, D0, D0 + 3n * DAY, RESOLUTIONS);
  const source = createFakeSource([], D0, D0 + 3n * DAY, MINUTE);
  source.summaries = (tags, window, resolutionMs) => fake.source(tags, window, resolutionMs);
  const sink = createFakeSink();
  await sink.state!.saveWatermarks(marks);
  const r = await fakeRig(source, sink, YAML);
  const run = (from = D0, to = D0 + 2n * DAY) =>
    verifySummaries(r.ctx, TAGS, from, to, { windowMs: 86_400_000, store: fake.store });
  return { fake, rig: r, run };
}

Deno.test("verifySummaries() compares every cycle of every resolution and finds nothing", async () => {
  const { fake, rig: r, run } = await rig();
  try {
    const report = await run();
    assert.deepEqual(report.differ, []);
    // Three tags, two days: 2 × 1440 minutes, 2 × 24 hours, 2 days each.
    assert.deepEqual(
      [...report.compared].sort(([a], [b]) => a - b),
      [[60_000, 3 * 2880], [3_600_000, 3 * 48], [86_400_000, 3 * 2]],
    );
    // Per chunk of two tags, day and resolution: 2 chunks × 2 days × 3 resolutions; and per
    // chunk of analog tags, the minutes around the watermark (where is the last point?).
    const days = fake.asked.filter((a) => a.window.to - a.window.from === DAY);
    assert.equal(days.length, 12);
    assert.deepEqual(fake.asked.filter((a) => !days.includes(a)), [{
      tags: ["A.Flow", "B.Flow"],
      window: { from: D0 + 2n * DAY - MINUTE, to: D0 + 2n * DAY + MINUTE },
      resolutionMs: 60_000,
    }]);
  } finally {
    await r.close();
  }
});

Deno.test("verifySummaries() names a corrupted stored row: tag, resolution, cycle, column, both values", async () => {
  const { fake, rig: r, run } = await rig();
  try {
    const cycle = D0 + DAY + 5n * HOUR;
    const row = fake.stored.get(3_600_000)!.analog.find((x) =>
      x.TagName === "B.Flow" && x.StartDateTime === cycle
    )!;
    const good = row.Average;
    row.Average = good! + 1;
    const pump = fake.stored.get(60_000)!.state;
    pump.splice(pump.findIndex((x) => x.TagName === "A.Pump" && x.StartDateTime === cycle), 1);
    const state = pumpState(fake, cycle);
    const report = await run();
    assert.deepEqual(
      report.differ.map((
        d,
      ) => [d.tag, d.resolutionMs, d.start, d.state, d.column, d.historian, d.stored]),
      [
        ["A.Pump", 60_000, cycle, state, "row", "present", "missing"],
        ["B.Flow", 3_600_000, cycle, undefined, "Average", String(good), String(good! + 1)],
      ],
    );
  } finally {
    await r.close();
  }
});

/** The state the historian has for A.Pump in the minute at `cycle`. */
function pumpState(fake: ReturnType<typeof createFakeSummaries>, cycle: bigint) {
  return fake.historian.get(60_000)!.state.find((x) =>
    x.TagName === "A.Pump" && x.StartDateTime === cycle
  )!.vValue!;
}

Deno.test("verifySummaries() compares no cycle past a tag's watermark, nor past an analog tag's last point before it", async () => {
  const mark = D0 + DAY + 12n * HOUR + 30n * MINUTE;
  const { fake, rig: r, run } = await rig(
    new Map([["A.Flow", mark], ["A.Pump", mark], ["B.Flow", D0 + 2n * DAY]]),
  );
  try {
    // Past A's watermark the store has nothing yet: not a difference.
    for (const rows of fake.stored.values()) {
      rows.analog = rows.analog.filter((x) => x.TagName !== "A.Flow" || x.EndDateTime <= mark);
      rows.state = rows.state.filter((x) => x.TagName !== "A.Pump" || x.EndDateTime <= mark);
    }
    // B.Flow has no point from 23:59:30 of the second day to past its watermark at 24:00.
    const end = D0 + 2n * DAY;
    const next = fake.historian.get(60_000)!.analog.find((x) =>
      x.TagName === "B.Flow" && x.StartDateTime === end
    )!;
    next.FirstDateTime = end + 30n * 10_000_000n;
    const report = await run();
    assert.deepEqual(report.differ, []);
    // A.Flow and A.Pump up to their watermark at 12:30 of the second day (a point on it); B.Flow
    // up to its last point, 23:59:30: its last minute, hour and day run on (linearly, maybe)
    // toward a point the store cannot have yet, and are not compared.
    assert.equal(report.compared.get(60_000), 2 * (1440 + 750) + 1440 + 1439);
    assert.equal(report.compared.get(3_600_000), 2 * (24 + 12) + 24 + 23);
    assert.equal(report.compared.get(86_400_000), 3);
  } finally {
    await r.close();
  }
});

Deno.test("verifySummaries() cuts the range's edges to whole cycles", async () => {
  const { fake, rig: r, run } = await rig();
  try {
    const report = await run(D0 + 90n * MINUTE + 1n, D0 + DAY + 30n * MINUTE);
    assert.deepEqual(report.differ, []);
    const asked = fake.asked.filter((a) => a.resolutionMs === 3_600_000 && a.tags.length === 2);
    assert.deepEqual(asked.map((a) => [a.window.from, a.window.to]), [[D0 + 2n * HOUR, D0 + DAY]]);
    assert.equal(report.compared.get(86_400_000), undefined, "no whole day in the range");
    // From 01:31 to 00:30 the next day.
    assert.equal(report.compared.get(60_000), 3 * (1440 - 91 + 30));
  } finally {
    await r.close();
  }
});

const SUMMARIES = `
tables:
  H:
    from: readings
    columns:
      t: { type: "DateTime64(7, 'UTC')", value: time }
      tag: { type: String, value: tag }
      v: { type: Nullable(Float64), value: value }
    order_by: [tag, t]
summaries: { from: H, tag_column: tag, time_column: t, value_column: v, quality: "192", cycles: [{ every: 1m }, { every: 1h }] }
`;

Deno.test("summariesProblem() says what the spec or the plugins lack", async () => {
  const source = createFakeSource([], D0, D0 + DAY, MINUTE);
  for (
    const [yaml, problem] of [
      [YAML, "the spec fake keeps no summaries (no summaries:)"],
      [YAML + SUMMARIES, "the fake source cannot compute the historian's summaries"],
    ]
  ) {
    const r = await fakeRig(source, createFakeSink(), yaml);
    try {
      assert.equal(summariesProblem(r.ctx), problem);
    } finally {
      await r.close();
    }
  }
});

Deno.test("verifySummaries() compares the cycles the spec's summaries keep", async () => {
  const fake = createFakeSummaries(TAGS, D0, D0 + 2n * DAY, RESOLUTIONS);
  const source = createFakeSource([], D0, D0 + 2n * DAY, MINUTE);
  source.summaries = (tags, window, resolutionMs) => fake.source(tags, window, resolutionMs);
  const r = await fakeRig(source, createFakeSink(), YAML + SUMMARIES);
  try {
    const report = await verifySummaries(r.ctx, TAGS, D0, D0 + DAY, {
      windowMs: 86_400_000,
      store: fake.store,
    });
    assert.deepEqual([...report.compared.keys()].sort((a, b) => a - b), [60_000, 3_600_000]);
  } finally {
    await r.close();
  }
});

Deno.test("verify --summaries: a bad --tolerance, --repair, or --tolerance alone exit 2 saying why", async () => {
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "verify", ...args],
      env: { LOG_LEVEL: "error" },
    }).output();
    return [out.code, new TextDecoder().decode(out.stderr)];
  };
  assert.deepEqual(await cli("--summaries", "--tolerance", "lots"), [
    2,
    'Cannot use --tolerance "lots": give a relative tolerance from 0 to below 1, e.g. 1e-9\n',
  ]);
  assert.deepEqual(await cli("--summaries", "--repair"), [
    2,
    "Cannot use --repair with --summaries: summaries are recomputed from the stored readings; verify and repair the readings first\n",
  ]);
  assert.deepEqual(await cli("--tolerance", "1e-6"), [
    2,
    "Cannot use --tolerance without --summaries: counts are compared exactly\n",
  ]);
});
