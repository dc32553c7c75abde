import assert from "node:assert/strict";
import type { FieldSpec, ValueSpec } from "../../engine/mod.ts";
import { readingValues } from "../../engine/spec/values.ts";
import { encoderFor, RowWriter } from "./rowbinary.ts";
import { valueProblem } from "./value_fit.ts";

const FIELDS: Record<string, FieldSpec> = {
  Detail: { type: "int", per: "row" },
  Key: { type: "int", per: "tag", nullable: false },
  Ratio: { type: "float", per: "row" },
  Mode: { type: "string", per: "batch" },
  Flag: { type: "bool", per: "row" },
  Seen: { type: "time", per: "row" },
};
const values = readingValues(FIELDS);

const TYPES = [
  "String",
  "LowCardinality(String)",
  "Nullable(String)",
  "Float64",
  "Nullable(Float32)",
  "Int32",
  "Nullable(UInt8)",
  "Int64",
  "Nullable(UInt64)",
  "Bool",
  "DateTime64(7, 'UTC')",
  "Nullable(DateTime64(3, 'UTC'))",
  "DateTime('UTC')",
];

/** Values of each type as sources deliver them. */
const SAMPLES: Record<ValueSpec["type"], unknown[]> = {
  string: ["good", "Running", ""],
  int: [192, -1, 0],
  float: [1.5, -0.25, 3],
  bool: [true, false],
  time: [17_000_000_000_000_000n],
};

Deno.test("valueProblem() passes only what the sink's writer then writes, null included", () => {
  let passed = 0;
  for (const [name, value] of Object.entries(values)) {
    if (name === "ingested_at" || value.per === "batch") continue; // not encoded per row
    for (const type of TYPES) {
      if (valueProblem(name, type, values)) continue;
      passed++;
      const encode = encoderFor(type);
      const samples = [...SAMPLES[value.type], ...(value.nullable ? [null] : [])];
      for (const sample of samples) {
        assert.doesNotThrow(() => encode(new RowWriter(), sample), `${name} into ${type}`);
      }
    }
  }
  assert.ok(passed > 30, `only ${passed} pairs passed`);
});

Deno.test("valueProblem() names the part or field that fits, or the type to use", () => {
  assert.equal(
    valueProblem("quality", "UInt8", values),
    'quality is text ("good", "uncertain", "bad") and cannot be stored in UInt8; ' +
      "use quality_code for the source's numeric code, or type LowCardinality(String)",
  );
  assert.equal(
    valueProblem("quality_code", "LowCardinality(String)", values),
    undefined,
    "a number is written as its text",
  );
  assert.equal(
    valueProblem("fields.Mode", "Int32", values),
    "fields.Mode is text and cannot be stored in Int32; use type Nullable(String)",
  );
  assert.equal(
    valueProblem("fields.Ratio", "Int64", values),
    "fields.Ratio is a floating-point number and cannot be stored in Int64 without losing its " +
      "decimals; use type Nullable(Float64)",
  );
  assert.equal(
    valueProblem("fields.Flag", "UInt64", values),
    "fields.Flag is true or false and cannot be stored in UInt64; use type Nullable(Bool)",
  );
  assert.equal(
    valueProblem("fields.Detail", "DateTime('UTC')", values),
    "fields.Detail is an integer and cannot be stored in DateTime('UTC'); use type Nullable(Int64)",
  );
  assert.equal(
    valueProblem("fields.Seen", "Int64", values),
    "fields.Seen is a point in time and cannot be stored in Int64 as one; " +
      "use type Nullable(DateTime64(7, 'UTC'))",
  );
});

Deno.test("valueProblem() refuses null only where the writer encodes it per row", () => {
  assert.equal(
    valueProblem("value", "Float64", values),
    "value is null on string tags and gap markers, which Float64 cannot hold; " +
      "use type Nullable(Float64)",
  );
  assert.equal(
    valueProblem("fields.Detail", "Int32", values),
    "fields.Detail is null on readings that lack it, which Int32 cannot hold; " +
      "use type Nullable(Int32)",
  );
  assert.equal(valueProblem("fields.Key", "Int32", values), undefined, "declared never null");
  assert.equal(valueProblem("text", "String", values), undefined, "null is written as ''");
  assert.equal(valueProblem("fields.Flag", "Bool", values), undefined, "null is written as false");
  assert.equal(
    valueProblem("fields.Detail", "Int32", values, true),
    undefined,
    "stored per batch, null is the column's default",
  );
});

Deno.test("valueProblem() leaves unknown values and types the writer refuses to other checks", () => {
  assert.equal(valueProblem("fields.Nope", "UInt8", values), undefined);
  assert.equal(valueProblem("quality", "Map(String, String)", values), undefined);
});
