import assert from "node:assert/strict";
import { cronProblem } from "./cron.ts";

Deno.test("cronProblem() accepts the forms Deno.cron accepts", () => {
  for (
    const ok of [
      "* * * * *",
      "*/5 * * * *",
      "0 0 * * 0",
      "0,30 8-18 * * 1-5",
      "15 2 1 1,7 *",
      "0 */2 * * 7",
    ]
  ) {
    assert.equal(cronProblem(ok), undefined, ok);
  }
});

Deno.test("cronProblem() names the field and what is wrong with it", () => {
  assert.equal(
    cronProblem("* * *"),
    "expected 5 fields (minute hour day-of-month month day-of-week), got 3",
  );
  assert.equal(cronProblem("61 * * * *"), 'minute field "61": 61 is outside 0-59');
  assert.equal(cronProblem("* 24 * * *"), 'hour field "24": 24 is outside 0-23');
  assert.equal(cronProblem("* * 0 * *"), 'day of month field "0": 0 is outside 1-31');
  assert.equal(cronProblem("* * * 5-2 *"), 'month field "5-2": range 5-2 is reversed');
  assert.equal(cronProblem("*/0 * * * *"), 'minute field "*/0": a step of 0 never fires');
  assert.equal(cronProblem("@hourly * * * *"), 'minute field "@hourly": cannot read "@hourly"');
  assert.equal(cronProblem("*-5 * * * *"), 'minute field "*-5": cannot read "*-5"');
});
