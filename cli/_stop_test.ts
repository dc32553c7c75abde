import assert from "node:assert/strict";
import { createLogger } from "../engine/log.ts";
import type { Progress } from "../engine/progress.ts";
import { stopper } from "./_stop.ts";

const running: Progress = {
  kind: "backfill",
  units: 10,
  done: 3,
  failed: 0,
  running: 2,
  rowsInFlight: 12_345,
  rowsRead: 40_000,
  rowsStored: 27_655,
  alreadyStored: 0,
  seconds: 20,
  rowsPerSecond: 2_000,
  storedPerSecond: 1_383,
};

Deno.test("stopper() stops on the first signal, says what an exit costs on the second, exits on the third", () => {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const stop = new AbortController();
  const exits: number[] = [];
  const handle = stopper(stop, log, { current: () => running, exit: (c) => exits.push(c) });

  handle("SIGINT");
  assert.equal(stop.signal.aborted, true);
  assert.equal((stop.signal.reason as Error).message, "stopping on SIGINT");
  assert.equal(lines[0]!.level, "info");
  assert.match(
    lines[0]!.msg,
    /^stopping: finishing the batch in hand, then closing; .*nothing is lost/,
  );

  handle("SIGINT");
  assert.deepEqual(exits, []);
  assert.equal(lines[1]!.level, "warn");
  assert.equal(
    lines[1]!.msg,
    "still stopping; SIGINT once more exits at once: that loses the run's record and report, " +
      "and cuts the store's writes in flight (the next run writes them again, exactly once); " +
      "the 2 units in flight (12,345 readings not committed) are read again by the next run " +
      "either way",
  );

  handle("SIGINT");
  assert.deepEqual(exits, [130]);
  assert.equal(lines[2]!.level, "error");
});

Deno.test("stopper() between runs says only what every exit costs", () => {
  const lines: { msg: string }[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const handle = stopper(new AbortController(), log, { current: () => undefined, exit: () => {} });
  handle("SIGTERM");
  handle("SIGTERM");
  assert.doesNotMatch(lines[1]!.msg, /units? in flight/);
});
