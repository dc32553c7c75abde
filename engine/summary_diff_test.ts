import assert from "node:assert/strict";
import { compareSummaries } from "./summary_diff.ts";
import { parseTicks } from "./types.ts";
import type { AnalogSummaryRow, StateSummaryRow } from "./types.ts";

const T = parseTicks("2024-01-01T00:00:00Z");
const MINUTE = 600_000_000n;

function analog(more: Partial<AnalogSummaryRow> = {}): AnalogSummaryRow {
  return {
    TagName: "Flow",
    StartDateTime: T,
    EndDateTime: T + MINUTE,
    OPCQuality: 192,
    PercentGood: 100,
    First: 40,
    FirstDateTime: T,
    Last: 60,
    LastDateTime: T + MINUTE / 2n,
    Minimum: 40,
    MinDateTime: T,
    Maximum: 60,
    MaxDateTime: T + MINUTE / 2n,
    Average: 50,
    StdDev: 10,
    Integral: 50 * 60 / 3600,
    ValueCount: 2,
    ...more,
  };
}

function state(more: Partial<StateSummaryRow> = {}): StateSummaryRow {
  return {
    TagName: "Pump",
    StartDateTime: T,
    EndDateTime: T + MINUTE,
    Value: 1,
    vValue: "1",
    OPCQuality: 192,
    StateCount: 2,
    ContainedStateCount: 1,
    StateTimeMin: 10_000,
    StateTimeMax: 20_000,
    StateTimeAvg: 15_000,
    StateTimeTotal: 30_000,
    StateTimeMinContained: 10_000,
    StateTimeMaxContained: 10_000,
    StateTimeAvgContained: 10_000,
    StateTimeTotalContained: 10_000,
    StateTimePercent: 50,
    ...more,
  };
}

const diff = (h: AnalogSummaryRow[], s: AnalogSummaryRow[], tolerance?: number) =>
  compareSummaries({ analog: h, state: [] }, { analog: s, state: [] }, 60_000, tolerance)
    .map((d) => `${d.tag} ${d.column}: ${d.historian} / ${d.stored}`);

Deno.test("compareSummaries() finds nothing between equal rows", () => {
  assert.deepEqual(diff([analog()], [analog()]), []);
  assert.deepEqual(
    compareSummaries({ analog: [], state: [state()] }, { analog: [], state: [state()] }, 60_000),
    [],
  );
});

Deno.test("compareSummaries() names the tag, cycle and column of a corrupted row", () => {
  const [d, ...rest] = compareSummaries(
    { analog: [analog()], state: [] },
    { analog: [analog({ Average: 51 })], state: [] },
    60_000,
  );
  assert.deepEqual(rest, []);
  assert.deepEqual(d, {
    view: "AnalogSummaryHistory",
    tag: "Flow",
    start: T,
    resolutionMs: 60_000,
    column: "Average",
    historian: "50",
    stored: "51",
  });
});

Deno.test("compareSummaries() takes rounding within the relative tolerance, not beyond", () => {
  assert.deepEqual(diff([analog()], [analog({ Average: 50 * (1 + 5e-10) })]), []);
  assert.deepEqual(diff([analog()], [analog({ Average: 50 * (1 + 5e-9) })]), [
    `Flow Average: 50 / ${50 * (1 + 5e-9)}`,
  ]);
  assert.deepEqual(diff([analog()], [analog({ Average: 50 * (1 + 5e-9) })], 1e-8), []);
});

Deno.test("compareSummaries() judges a result near zero by the magnitude of the cycle's values", () => {
  // A signal from -1e6 to 1e6 averages to about 0: rounding of 1e-10 is noise, not a difference.
  const h = analog({ First: -1e6, Minimum: -1e6, Last: 1e6, Maximum: 1e6, Average: 0 });
  assert.deepEqual(diff([h], [{ ...h, Average: 1e-10 }]), []);
  assert.deepEqual(diff([h], [{ ...h, Average: 1e-2 }]), ["Flow Average: 0 / 0.01"]);
});

Deno.test("compareSummaries() compares StdDev through its variance, so a flat cycle's rounding passes", () => {
  const flat = analog({
    First: 1e4,
    Last: 1e4,
    Minimum: 1e4,
    Maximum: 1e4,
    Average: 1e4,
    StdDev: 0,
  });
  // sqrt of a variance that is 1e-16 of 1e8 off zero: 1e-4, far above 1e-9 relative.
  assert.deepEqual(diff([flat], [{ ...flat, StdDev: 1e-4 }]), []);
  assert.deepEqual(diff([flat], [{ ...flat, StdDev: 1 }]), ["Flow StdDev: 0 / 1"]);
});

Deno.test("compareSummaries() needs counts, qualities and times exact, and NULL matched by NULL", () => {
  assert.deepEqual(
    diff([analog()], [
      analog({ ValueCount: 3, OPCQuality: 64, MaxDateTime: T + MINUTE / 2n + 1n, Minimum: null }),
    ]),
    [
      "Flow OPCQuality: 192 / 64",
      "Flow Minimum: 40 / NULL",
      "Flow MaxDateTime: 2024-01-01T00:00:30.0000000Z / 2024-01-01T00:00:30.0000001Z",
      "Flow ValueCount: 2 / 3",
    ],
  );
});

Deno.test("compareSummaries() lists rows only one side has, and stored rows kept twice", () => {
  const next = analog({ StartDateTime: T + MINUTE, EndDateTime: T + 2n * MINUTE });
  assert.deepEqual(diff([analog(), next], [analog()]), ["Flow row: present / missing"]);
  assert.deepEqual(diff([analog()], [analog(), next]), ["Flow row: missing / present"]);
  assert.deepEqual(diff([analog()], [analog(), analog()]), ["Flow row: once / more than once"]);
});

Deno.test("compareSummaries() pairs state rows by tag, cycle and state", () => {
  const off = state({ Value: 0, vValue: "0", StateTimeTotal: 30_000 });
  const [d, ...rest] = compareSummaries(
    { analog: [], state: [state(), off] },
    { analog: [], state: [off, state({ StateTimeTotal: 30_001, ContainedStateCount: 2 })] },
    60_000,
  );
  assert.deepEqual(
    [d?.state, d?.column, rest.map((r) => r.column)],
    ["1", "ContainedStateCount", ["StateTimeTotal"]],
  );
  const text = state({ Value: null, vValue: "Wheat" });
  assert.deepEqual(
    compareSummaries({ analog: [], state: [text] }, { analog: [], state: [] }, 60_000)
      .map((x) => [x.state, x.column, x.historian]),
    [["Wheat", "row", "present"]],
  );
});
