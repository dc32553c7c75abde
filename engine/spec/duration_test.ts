import assert from "node:assert/strict";
import { duration, formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration() reads units and sums of units", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("1w"), 604_800_000);
  assert.equal(parseDuration("2y"), 730 * 86_400_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1.5s"), 1_500);
  assert.equal(parseDuration("3600s"), 3_600_000);
});

Deno.test("parseDuration() rejects bare numbers, spaces and unknown units", () => {
  for (const bad of ["", "30", "5 mins", "1mo", "s", "-5s", "1h 30m", "1h-30m"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

Deno.test("duration() enforces its minimum with a readable message", () => {
  const result = duration({ min: 1_000 }).safeParse("100ms");
  assert.equal(result.success, false);
  assert.equal(
    result.error?.issues[0]?.message,
    'duration "100ms" is too short: the minimum is 1s',
  );
});

Deno.test("formatDuration() writes the largest units first", () => {
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(86_400_000 + 1), "1d1ms");
  assert.equal(formatDuration(0), "0s");
});
