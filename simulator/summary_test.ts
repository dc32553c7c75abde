/**
 * The simulator's summaries through npm:mssql over real TDS, on a small dataset whose answers
 * are worked out by hand (tests/fixtures/historian/summaries): points on cycle edges, a value
 * carried into a cycle, gap markers, linear against stair-step, an integral divisor, an
 * uncertain point under both quality rules, state occurrences spanning cycles, repeats.
 */
import assert from "node:assert/strict";
import sql from "mssql";
import { parseTicks } from "../engine/types.ts";
import { startSimulator } from "./mod.ts";

type Row = Record<string, unknown>;
type Query = (text: string) => Promise<Row[]>;

const DATASET = "tests/fixtures/historian/summaries";

async function withSim(fn: (query: Query) => Promise<void>) {
  const login = { user: "reader", password: "Reader-pw1" };
  const sim = await startSimulator({
    ...login,
    dataset: DATASET,
    now: () => parseTicks("2024-06-01T00:00:00Z"),
  });
  const pool = new sql.ConnectionPool({
    server: "127.0.0.1",
    port: sim.port,
    ...login,
    database: "Runtime",
    options: { encrypt: false, trustServerCertificate: true },
    pool: { max: 1 },
  });
  await pool.connect();
  try {
    await fn(async (text) => (await pool.request().query(text)).recordset as Row[]);
  } finally {
    await pool.close();
    await sim.close();
  }
}

/** "HH:MM:SS" of a returned datetime2 (all the dataset's times are on whole seconds). */
const hms = (d: unknown) => (d === null ? null : (d as Date).toISOString().slice(11, 19));
const near = (got: unknown, want: number, what: string) =>
  assert.ok(
    Math.abs((got as number) - want) < 1e-9 * Math.max(1, Math.abs(want)),
    `${what}: ${got} ≠ ${want}`,
  );

const ANALOG =
  `SELECT StartDateTime, EndDateTime, OPCQuality, PercentGood, First, FirstDateTime, Last,
  LastDateTime, Minimum, MinDateTime, Maximum, MaxDateTime, Average, StdDev, Integral, ValueCount
  FROM AnalogSummaryHistory WHERE wwTimeZone = 'UTC' AND `;

Deno.test("AnalogSummaryHistory: stair-step with a gap, a point on the edge, a carried value and a divisor", async () => {
  await withSim(async (q) => {
    const rows = await q(
      ANALOG +
        `TagName = 'Step' AND StartDateTime >= '2023-12-31 23:58' AND EndDateTime <= '2024-01-01 00:06'
      AND wwResolution = 60000`,
    );
    // Rows start with the cycle of the tag's first point (00:00:30), not at the query's start.
    assert.deepEqual(rows.map((r) => hms(r.StartDateTime)), [
      "00:00:00",
      "00:01:00",
      "00:02:00",
      "00:03:00",
      "00:04:00",
      "00:05:00",
    ]);
    const [c0, c1, c2, c3] = rows;
    // 10 from 00:00:30: half the cycle covered.
    assert.deepEqual(
      [c0!.OPCQuality, c0!.PercentGood, c0!.First, hms(c0!.FirstDateTime), c0!.ValueCount],
      [64, 50, 10, "00:00:30", 1],
    );
    near(c0!.Average, 10, "c0 average");
    near(c0!.Integral, 300 / 3600, "c0 integral (÷ 3600: m3/h over seconds)");
    near(c0!.StdDev, 0, "c0 stddev");
    // 20 for 30 s (the point on the edge is this cycle's), a gap for 15 s, 40 for 15 s.
    assert.deepEqual(
      [c1!.PercentGood, c1!.First, hms(c1!.FirstDateTime), c1!.Last, hms(c1!.LastDateTime)],
      [75, 20, "00:01:00", 40, "00:01:45"],
    );
    assert.deepEqual(
      [c1!.Minimum, hms(c1!.MinDateTime), c1!.Maximum, hms(c1!.MaxDateTime), c1!.ValueCount],
      [20, "00:01:00", 40, "00:01:45", 2],
    );
    near(c1!.Average, 1200 / 45, "c1 average");
    near(c1!.Integral, 1200 / 3600, "c1 integral");
    near(c1!.StdDev, Math.sqrt((30 * (20 - 80 / 3) ** 2 + 15 * (40 - 80 / 3) ** 2) / 45), "c1 sd");
    // The repeat at 00:02:30 is a point of its own; 40 held the whole cycle: good throughout.
    assert.deepEqual(
      [c2!.OPCQuality, c2!.PercentGood, c2!.First, hms(c2!.FirstDateTime), c2!.ValueCount],
      [192, 100, 40, "00:02:30", 1],
    );
    // No point inside: First and Last are the value in effect, with its own earlier time.
    assert.deepEqual(
      [
        c3!.First,
        hms(c3!.FirstDateTime),
        c3!.Last,
        hms(c3!.LastDateTime),
        c3!.Minimum,
        c3!.Maximum,
      ],
      [40, "00:02:30", 40, "00:02:30", null, null],
    );
    assert.deepEqual([c3!.ValueCount, c3!.Average, c3!.PercentGood], [0, 40, 100]);

    const [hour] = await q(
      ANALOG +
        `TagName = 'Step' AND StartDateTime >= '2024-01-01 00:00' AND EndDateTime <= '2024-01-01 01:00'
      AND wwResolution = 3600000`,
    );
    near(hour!.Average, 8700 / 3555, "hour average");
    near(hour!.PercentGood, 3555 / 36, "hour percent good");
    near(hour!.Integral, 8700 / 3600, "hour integral");
    assert.deepEqual(
      [hms(hour!.MinDateTime), hour!.Maximum, hms(hour!.MaxDateTime), hour!.ValueCount],
      ["00:05:00", 40, "00:01:45", 5],
      "the earliest maximum of two equal ones",
    );
  });
});

Deno.test("AnalogSummaryHistory: a linear tag integrates trapezoids, into and across cycles", async () => {
  await withSim(async (q) => {
    const rows = await q(
      ANALOG +
        `TagName = 'Ramp' AND StartDateTime >= '2024-01-01 00:00' AND EndDateTime <= '2024-01-01 00:06'
      AND wwResolution = 60000`,
    );
    const avg = rows.map((r) => r.Average as number);
    near(avg[0], 30, "0→60");
    near(rows[0]!.StdDev, 60 / Math.sqrt(12), "a ramp's deviation");
    near(avg[1], 30, "60→0");
    // 0 holds toward the gap marker at 00:02:30 (no interpolation into a gap): half covered.
    near(avg[2], 0, "held before a gap");
    assert.equal(rows[2]!.PercentGood, 50);
    near(avg[3], 10, "10→10");
    // 10 at 00:04 toward 40 at 00:05:30: 10→23.33 in this cycle, 23.33→40 then 40 in the next.
    near(avg[4], (10 + 10 + 60 * 30 / 90) / 2, "interpolated out of the cycle");
    near(avg[5], ((10 + 60 * 30 / 90 + 40) / 2 * 30 + 40 * 30) / 60, "interpolated into it");
    assert.deepEqual([rows[5]!.First, hms(rows[5]!.FirstDateTime)], [40, "00:05:30"]);
  });
});

Deno.test("AnalogSummaryHistory: an uncertain point counts under EXTENDED (the default), not under GOOD", async () => {
  await withSim(async (q) => {
    const where = `TagName = 'Uncertain' AND StartDateTime >= '2024-01-01 00:00'
      AND EndDateTime <= '2024-01-01 00:01' AND wwResolution = 60000`;
    const [extended] = await q(ANALOG + where);
    near(extended!.Average, 20, "10→20→30 over the minute");
    assert.deepEqual(
      [extended!.PercentGood, extended!.OPCQuality, extended!.ValueCount, extended!.Maximum],
      [100, 64, 2, 20],
    );
    const [good] = await q(ANALOG + where + " AND wwQualityRule = 'Good'");
    // 10 holds until the uncertain point (not interpolated toward it), which covers nothing.
    near(good!.Average, 10, "10 for 30 s");
    assert.deepEqual([good!.PercentGood, good!.ValueCount, good!.Maximum], [50, 1, 10]);
  });
});

Deno.test("StateSummaryHistory: occurrences spanning cycles, contained ones, a gap and repeats", async () => {
  await withSim(async (q) => {
    const rows = await q(
      `SELECT StartDateTime, Value, vValue, OPCQuality, StateCount, ContainedStateCount, StateTimeMin,
        StateTimeMax, StateTimeAvg, StateTimeTotal, StateTimeMinContained, StateTimeMaxContained,
        StateTimeAvgContained, StateTimeTotalContained, StateTimePercent
       FROM StateSummaryHistory WHERE TagName IN ('Pump', 'Recipe') AND wwTimeZone = 'UTC'
       AND StartDateTime >= '2024-01-01 00:00' AND EndDateTime <= '2024-01-01 00:03' AND wwResolution = 60000`,
    );
    const line = (r: Row) =>
      [
        hms(r.StartDateTime),
        r.vValue,
        r.StateCount,
        r.ContainedStateCount,
        r.StateTimeMin,
        r.StateTimeMax,
        r.StateTimeAvg,
        r.StateTimeTotal,
        r.StateTimeMinContained,
        r.StateTimeMaxContained,
        r.StateTimeTotalContained,
      ].join(" ");
    assert.deepEqual(rows.map(line), [
      // Pump 1 from 00:00:10, its repeat at 00:00:40 continuing it, until 0 at 00:01:20.
      "00:00:00 1 1 0 50000 50000 50000 50000   0",
      // Recipe A [0, 20 s) contained; A again from 40 s, its repeat on the edge continuing it.
      "00:00:00 A 2 1 20000 20000 20000 40000 20000 20000 20000",
      "00:00:00 B 1 1 20000 20000 20000 20000 20000 20000 20000",
      "00:01:00 1 2 0 10000 20000 15000 30000   0",
      "00:01:00 0 1 1 30000 30000 30000 30000 30000 30000 30000",
      "00:01:00 A 1 0 60000 60000 60000 60000   0",
      // The gap marker at 00:02:10 ends an occurrence; 1 starts again at 00:02:20.
      "00:02:00 1 2 0 10000 40000 25000 50000   0",
      "00:02:00 A 1 0 60000 60000 60000 60000   0",
    ]);
    const pump = rows.filter((r) => r.vValue === "1" || r.vValue === "0");
    assert.ok(pump.every((r) => typeof r.Value === "number" && r.OPCQuality === 192));
    assert.ok(rows.filter((r) => r.vValue === "A").every((r) => r.Value === null));
    near(rows[0]!.StateTimePercent, 50000 / 600, "percent of the cycle");
  });
});

Deno.test("History: Average and Integral per cycle, stamped at the end with a phantom cycle, or at the start", async () => {
  await withSim(async (q) => {
    const end = await q(
      `SELECT DateTime, StartDateTime, Value, OPCQuality, PercentGood, wwInterpolationType FROM History
       WHERE TagName = 'Ramp' AND DateTime >= '2024-01-01 00:00' AND DateTime <= '2024-01-01 00:03'
       AND wwRetrievalMode = 'Average' AND wwResolution = 60000 AND wwTimeZone = 'UTC'`,
    );
    assert.deepEqual(
      end.map((r) => [hms(r.DateTime), hms(r.StartDateTime), r.OPCQuality, r.PercentGood]),
      [
        ["00:00:00", "23:59:00", 0, 0], // the phantom cycle before the start: nothing stored
        ["00:01:00", "00:00:00", 192, 100],
        ["00:02:00", "00:01:00", 192, 100],
        ["00:03:00", "00:02:00", 64, 50],
      ],
    );
    assert.deepEqual(end.map((r) => r.Value), [null, 30, 30, 0]);
    assert.ok(end.every((r) => r.wwInterpolationType === "LINEAR"));

    const start = await q(
      `SELECT DateTime, Value FROM History WHERE TagName = 'Ramp' AND DateTime >= '2024-01-01 00:00'
       AND DateTime < '2024-01-01 00:03' AND wwRetrievalMode = 'Average' AND wwCycleCount = 3
       AND wwTimeStampRule = 'Start' AND wwInterpolationType = 'StairStep' AND wwTimeZone = 'UTC'`,
    );
    // Forced stair-step: 0 for the first minute, 60 for the second.
    assert.deepEqual(start.map((r) => [hms(r.DateTime), r.Value]), [
      ["00:00:00", 0],
      ["00:01:00", 60],
      ["00:02:00", 0],
    ]);

    const integral = await q(
      `SELECT DateTime, Value FROM History WHERE TagName IN ('Step', 'Pump') AND DateTime >= '2024-01-01 00:01'
       AND DateTime <= '2024-01-01 00:02' AND wwRetrievalMode = 'Integral' AND wwResolution = 60000
       AND wwTimeZone = 'UTC'`,
    );
    // Step ÷ 3600; Pump is discrete, so it gets Cyclic's value at the row's time.
    assert.deepEqual(integral.map((r) => hms(r.DateTime)), [
      "00:01:00",
      "00:01:00",
      "00:02:00",
      "00:02:00",
    ]);
    near(integral[0]!.Value, 300 / 3600, "phantom cycle [00:00, 00:01)");
    assert.equal(integral[1]!.Value, 1);
    near(integral[2]!.Value, 1200 / 3600, "[00:01, 00:02)");
    assert.equal(integral[3]!.Value, 1, "1 since 00:01:50");
  });
});

Deno.test("History: ValueState per cycle and state, NULL a state of its own, by wwStateCalc", async () => {
  await withSim(async (q) => {
    const state = (calc: string, from: string, to: string) =>
      q(
        `SELECT DateTime, vValue, StateTime, wwStateCalc FROM History WHERE TagName IN ('Pump', 'Ramp')
         AND DateTime >= '2024-01-01 ${from}' AND DateTime <= '2024-01-01 ${to}' AND wwCycleCount = 1
         AND wwRetrievalMode = 'ValueState' AND wwStateCalc = '${calc}' AND wwTimeZone = 'UTC'`,
      );
    const total = await state("Total", "00:01", "00:02");
    // The analog tag has no rows; the phantom cycle [00:00, 00:01) is stamped at the start.
    assert.deepEqual(total.map((r) => [hms(r.DateTime), r.vValue, r.StateTime, r.wwStateCalc]), [
      ["00:01:00", "1", 50000, "TOTAL"],
      ["00:02:00", "1", 30000, "TOTAL"],
      ["00:02:00", "0", 30000, "TOTAL"],
    ]);
    const percent = await state("Percent", "00:02", "00:03");
    const last = percent.filter((r) => hms(r.DateTime) === "00:03:00");
    assert.deepEqual(last.map((r) => r.vValue), ["1", null]);
    near(last[0]!.StateTime, 50 / 60 * 100, "1 for 50 s");
    near(last[1]!.StateTime, 10 / 60 * 100, "the gap for 10 s");
    const contained = await state("MaxContained", "00:01", "00:02");
    assert.deepEqual(contained.slice(1).map((r) => [r.vValue, r.StateTime]), [["1", null], [
      "0",
      30000,
    ]]);
  });
});

Deno.test("discovery: AnalogTag.InterpolationType and EngineeringUnit.IntegralDivisor from tags.csv", async () => {
  await withSim(async (q) => {
    const analog = await q("SELECT TagName, EUKey, InterpolationType FROM AnalogTag");
    const units = await q("SELECT EUKey, Unit, IntegralDivisor FROM EngineeringUnit");
    const unit = new Map(units.map((u) => [u.EUKey, u]));
    assert.deepEqual(
      analog.map((a) => [a.TagName, a.InterpolationType, unit.get(a.EUKey)?.IntegralDivisor]),
      [["Step", 0, 3600], ["Ramp", 1, 1], ["Uncertain", 254, 1]],
    );
    const params = await q(
      "SELECT Name, Value FROM SystemParameter WHERE Name LIKE 'Interpolation%'",
    );
    assert.deepEqual(params.map((p) => [p.Name, p.Value]), [
      ["InterpolationTypeInteger", "0"],
      ["InterpolationTypeReal", "1"],
    ]);
  });
});
