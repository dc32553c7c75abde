import assert from "node:assert/strict";
import { dateFromTicks, formatTicks, parseTicks, ticksFromDate } from "./types.ts";

Deno.test("parseTicks() keeps all seven fractional digits", () => {
  assert.equal(parseTicks("1970-01-01T00:00:00.0000001Z"), 1n);
  assert.equal(parseTicks("2024-03-31T01:02:03.1234567Z"), 17118469231234567n);
  assert.equal(parseTicks("2024-03-31T03:02:03.1234567+02:00"), 17118469231234567n);
  assert.equal(parseTicks("2024-03-31"), 17118432000000000n);
});

Deno.test("parseTicks() rejects local times and precision past 100 ns", () => {
  assert.throws(() => parseTicks("2024-03-31T01:02:03"), /local times are ambiguous/);
  assert.throws(() => parseTicks("2024-03-31T01:02:03.12345678Z"), /more precise than 100 ns/);
  assert.equal(parseTicks("2024-03-31T01:02:03.123456700Z"), 17118469231234567n);
  assert.throws(() => parseTicks("yesterday"), /expected an ISO-8601 time/);
});

Deno.test("formatTicks() round-trips through parseTicks(), before 1970 too", () => {
  for (
    const text of [
      "2024-03-31T01:02:03.1234567Z",
      "1969-12-31T23:59:59.9999999Z",
      "2038-01-19T03:14:08.0000000Z",
    ]
  ) {
    assert.equal(formatTicks(parseTicks(text)), text);
  }
});

Deno.test("ticks and Dates convert at millisecond precision", () => {
  const date = new Date("2024-01-02T03:04:05.678Z");
  assert.equal(ticksFromDate(date), 17041646456780000n);
  assert.equal(dateFromTicks(ticksFromDate(date) + 9_999n).getTime(), date.getTime());
});
