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

Deno.test("RowWriter strings: the UTF-8 length as a varint, then the bytes, for any text", () => {
  const samples = [
    "",
    "Hamburg.L1.Machine7.Temp",
    "Zähler °C",
    "温度センサー",
    "🙂".repeat(10),
    "x".repeat(42),
    "x".repeat(43), // 129 bytes at worst: the general path
    "ü".repeat(200),
    "a".repeat(127),
    "a".repeat(128),
  ];
  const w = new RowWriter();
  for (const s of samples) w.string(s);
  const expected: number[] = [];
  for (const s of samples) {
    const bytes = new TextEncoder().encode(s);
    let n = bytes.length;
    while (n >= 0x80) {
      expected.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    expected.push(n, ...bytes);
  }
  assert.deepEqual([...w.view()], expected);
  // Kept bytes (LowCardinality columns) are the same bytes, the first time and the next.
  const kept = new RowWriter();
  for (const s of samples) kept.string(s, true);
  for (const s of samples) kept.string(s, true);
  assert.deepEqual([...kept.view()], [...expected, ...expected]);
  w.reset();
  assert.equal(w.length, 0);
  w.string("again");
  assert.deepEqual([...w.view()], [5, ...new TextEncoder().encode("again")]);
});
