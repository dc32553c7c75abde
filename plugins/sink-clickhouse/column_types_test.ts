import assert from "node:assert/strict";
import { typeProblem, unwrapType } from "./column_types.ts";

Deno.test("typeProblem() accepts the types ClickHouse creates columns of", () => {
  for (
    const type of [
      "LowCardinality(String)",
      "LowCardinality(Nullable(String))",
      "LowCardinality(FixedString(3))",
      "LowCardinality(UUID)",
      "Nullable(Float64)",
      "DateTime64(7, 'UTC')",
      "DateTime64(3, 'Europe/Berlin')",
      "DateTime('Etc/GMT+3')",
      "Decimal(76, 76)",
      "Decimal32(9)",
      "Array(Nullable(String))",
      "Map(LowCardinality(String), UInt8)",
      "Tuple(a String, b Nullable(Int32))",
      "Nullable(Enum8('a' = 1))",
    ]
  ) {
    assert.equal(typeProblem(type), undefined, type);
  }
});

Deno.test("typeProblem() refuses what ClickHouse refuses to create, with the type named", () => {
  const cases: [string, string][] = [
    [
      "LowCardinality(DateTime)",
      "ClickHouse refuses LowCardinality(DateTime): LowCardinality is for String, FixedString and UUID; use DateTime",
    ],
    [
      "Nullable(Tuple(String))",
      "ClickHouse refuses Nullable(Tuple(String)): Tuple cannot be inside Nullable",
    ],
    [
      "Nullable(Nullable(String))",
      "ClickHouse refuses Nullable(Nullable(String)): Nullable cannot be inside Nullable",
    ],
    ["Decimal32(10)", "Decimal32(10): the scale must be at most the precision (9)"],
    ["Decimal(10, 12)", "Decimal(10, 12): the scale must be at most the precision (10)"],
    ["Array(Nothing)", '"Nothing" holds no values: no column can have it'],
    [
      "DateTime64(3, 'Mars/Olympus')",
      "unknown time zone \"Mars/Olympus\" in DateTime64(3, 'Mars/Olympus')",
    ],
  ];
  for (const [type, message] of cases) assert.equal(typeProblem(type), message, type);
});

Deno.test("unwrapType() takes off Nullable and LowCardinality and says whether null fits", () => {
  assert.deepEqual(unwrapType("LowCardinality(Nullable(String))"), {
    base: "String",
    nullable: true,
  });
  assert.deepEqual(unwrapType(" DateTime64(7, 'UTC') "), {
    base: "DateTime64(7, 'UTC')",
    nullable: false,
  });
});
