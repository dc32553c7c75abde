import assert from "node:assert/strict";
import { READING_PARTS } from "./storage.ts";
import { readingValues } from "./values.ts";

Deno.test("readingValues() describes every reading part and every declared field", () => {
  const values = readingValues({
    Detail: { type: "int", per: "row", description: "detailed quality" },
    Key: { type: "int", per: "tag", nullable: false },
  });
  assert.deepEqual(Object.keys(values), [...READING_PARTS, "fields.Detail", "fields.Key"]);
  assert.deepEqual(values["quality"]?.values, ["good", "uncertain", "bad"]);
  assert.equal(values["quality"]?.counterpart, "quality_code");
  assert.equal(values["value"]?.nullable, true);
  assert.equal(values["site"]?.per, "batch");
  assert.deepEqual(values["fields.Detail"], {
    type: "int",
    nullable: true,
    nullWhen: "on readings that lack it",
    per: "row",
    description: "detailed quality",
  });
  assert.equal(values["fields.Key"]?.nullable, false, "a field declared never null");
});
