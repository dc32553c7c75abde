import assert from "node:assert/strict";
import type { Reading, ReadingsTable } from "../../engine/mod.ts";
import { encodeRows, insertShape, planColumns } from "./insert.ts";
import { encoderFor, RowWriter } from "./rowbinary.ts";

// Field names reach the compiled row encoder's source: these must stay names, never code.
const ODD = ['a"];globalThis.hacked=1;//', "back\\slash", "line\nbreak", "ünï", "constructor"];

const table = {
  from: "readings",
  columns: {
    DateTime: { type: "DateTime64(7, 'UTC')", value: "time" },
    Millis: { type: "DateTime64(3, 'UTC')", value: "time" },
    TagName: { type: "LowCardinality(String)", value: "tag" },
    Value: { type: "Nullable(Float64)", value: "value" },
    Text: { type: "Nullable(String)", value: "text" },
    Quality: { type: "UInt8", value: "quality_code" },
    ...Object.fromEntries(
      ODD.map((f, i) => [`F${i}`, { type: "Nullable(Int32)", value: `fields.${f}` }]),
    ),
    Batch: { type: "Nullable(String)", value: "fields.mode" },
  },
} as unknown as ReadingsTable;

function reading(i: number, fields: Record<string, unknown>): Reading {
  return {
    tag: `T${i % 3}`,
    time: 638_000_000_000_000_000n + BigInt(i) * 12_345n,
    value: i % 4 === 0 ? null : i / 7,
    text: i % 5 === 0 ? `t${i}` : null,
    quality: "good",
    qualityCode: i % 2 ? 0 : 192,
    fields,
  };
}

const own = (o: Record<string, unknown> | undefined, k: string) =>
  o && Object.hasOwn(o, k) ? o[k] : undefined;

/** The bytes column by column, value by value, with the column types' own encoders. */
function byHand(rows: Reading[], columns: string[], batch: Record<string, unknown>): Uint8Array {
  const w = new RowWriter();
  const cols = table.columns as Record<string, { type: string; value: string }>;
  for (const r of rows) {
    for (const name of columns) {
      const { type, value } = cols[name]!;
      const v = value === "time"
        ? r.time
        : value === "tag"
        ? r.tag
        : value === "value"
        ? r.value
        : value === "text"
        ? r.text
        : value === "quality_code"
        ? r.qualityCode
        : own(r.fields, value.slice(7)) ?? own(batch, value.slice(7)) ?? null;
      encoderFor(type)(w, v);
    }
  }
  return w.take();
}

Deno.test("the compiled row encoder writes what each column's encoder writes, for any field name", () => {
  const plans = planColumns("T", table);
  const fields = Object.fromEntries(ODD.map((f, i) => [f, i % 2 ? null : i * 1000 - 7]));
  const rows = Array.from({ length: 50 }, (_, i) => reading(i, fields));
  const batch = { mode: "FULL" };
  const shape = insertShape("db.t", plans, rows[0], batch);
  assert.deepEqual(
    shape.perRow.map((p) => p.name),
    ["DateTime", "Millis", "TagName", "Value", "Text", "Quality", "F0", "F1", "F2", "F3", "F4"],
    "the batch's own field is a parameter, not a per-row column",
  );
  const w = new RowWriter();
  encodeRows(w, shape, rows);
  assert.deepEqual(w.take(), byHand(rows, shape.perRow.map((p) => p.name), batch));
  assert.equal((globalThis as Record<string, unknown>).hacked, undefined);

  // Another batch of the same shape reuses the compiled encoder; a field missing from a row
  // falls back to the batch's value, then to NULL.
  const sparse = rows.map((r, i) => ({ ...r, fields: i % 2 ? {} : r.fields }));
  const again = insertShape("db.t", plans, rows[0], batch);
  assert.equal(again.encode, shape.encode);
  encodeRows(w, again, sparse);
  assert.deepEqual(w.take(), byHand(sparse, shape.perRow.map((p) => p.name), batch));
});
