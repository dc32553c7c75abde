import assert from "node:assert/strict";
import type { Progress } from "../engine/progress.ts";
import { progressLine, terminalProgress } from "./_progress.ts";

const p: Progress = {
  kind: "backfill",
  units: 8,
  done: 2,
  failed: 0,
  running: 2,
  rowsInFlight: 1_000,
  rowsRead: 120_000,
  rowsStored: 20_000,
  alreadyStored: 100_000,
  seconds: 60,
  rowsPerSecond: 2_000,
  storedPerSecond: 333,
  etaSeconds: 185,
};

Deno.test("progressLine() shows rows read, stored and already stored, the read rate and the ETA", () => {
  assert.equal(
    progressLine(p),
    "[######------------------] 2/8 units, 120,000 read, 20,000 stored, 100,000 already " +
      "stored, 2,000 rows/s, ETA 3 min 5 s",
  );
  assert.equal(
    progressLine({ ...p, kind: "verify", rowsRead: 500, rowsStored: 490, differ: 1 }),
    "[######------------------] 2/8 units, counted 500 in the historian, 490 stored, 1 differ, " +
      "ETA 3 min 5 s",
  );
});

Deno.test("terminalProgress() redraws one line for a backfill and leaves syncs to the log", () => {
  const out: string[] = [];
  const bar = terminalProgress({
    writeSync: (b) => (out.push(new TextDecoder().decode(b)), b.length),
  });
  bar.update({ ...p, kind: "sync" });
  bar.finish({ ...p, kind: "sync" });
  assert.equal(out.length, 0);
  bar.update(p);
  bar.finish({ ...p, done: 8 });
  assert.equal(out.length, 3);
  assert.ok(out[0]!.startsWith("\r[") && out[0]!.endsWith("\x1b[K"));
  assert.equal(out[2], "\n");
});
