import assert from "node:assert/strict";
import { RowWriter } from "./rowbinary.ts";

Deno.test("RowWriter grows by doubling, stops at its limit, and doubles again past it", () => {
  const limit = 300_000;
  const w = new RowWriter(limit);
  const sizes = new Set<number>();
  for (let i = 0; i < 100_000; i++) {
    w.f64(i);
    sizes.add(w.capacity);
  }
  assert.deepEqual(
    [...sizes],
    [65_536, 131_072, 262_144, limit, 2 * limit, 4 * limit],
    "a share of 300 kB is not rounded up to 512 kB, and growth past it stays geometric",
  );
  const view = new DataView(w.view().buffer, 0, w.length);
  assert.equal(w.length, 800_000);
  for (const i of [0, 37_499, 37_500, 99_999]) assert.equal(view.getFloat64(i * 8, true), i);
});
