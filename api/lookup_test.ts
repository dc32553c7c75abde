/** A route's lookup: which keys a request keeps, when they fit a parameter, the inlined SQL. */
import assert from "node:assert/strict";
import { byKey, inlineLookup, joinRows, KEYS_MAX_BYTES, keysFit, matching } from "./lookup.ts";
import { route } from "./spec.ts";

const DIM = [
  { tag: "A.L1.Press01.Speed", machine: "Press01", sensor_type: "Speed", unit: "rpm" },
  { tag: "A.L1.Press01.Temp", machine: "Press01", sensor_type: "Temp", unit: "°C" },
  { tag: "A.L2.Oven02.Temp", machine: "Oven02", sensor_type: "Temp", unit: "°C" },
];
const LOOKUP = {
  sql: "SELECT tag, machine, sensor_type, unit FROM MachineData FINAL WHERE machine != ''",
  match: { machine: "machine", sensor_type: "sensor" },
  key: "tag",
  param: "tags",
  memo: 30_000,
};

Deno.test("matching(): equal columns for the parameters given, every row for those not given", () => {
  const found = byKey(DIM, "tag");
  assert.deepEqual(matching(found, LOOKUP.match, {}), DIM.map((d) => d.tag));
  assert.deepEqual(matching(found, LOOKUP.match, { machine: "Press01", sensor: null }), [
    "A.L1.Press01.Speed",
    "A.L1.Press01.Temp",
  ]);
  assert.deepEqual(matching(found, LOOKUP.match, { sensor: "Temp" }), [
    "A.L1.Press01.Temp",
    "A.L2.Oven02.Temp",
  ]);
  assert.deepEqual(matching(found, LOOKUP.match, { machine: "Oven02", sensor: "Speed" }), []);
  assert.throws(() => byKey(DIM, "name"), /no column "name" \(lookup\.key\)/);
});

Deno.test("keysFit(): up to KEYS_MAX_BYTES as the client sends them, URL-encoded", () => {
  const name = "x".repeat(91); // 100 bytes a key with its quotes and comma
  const fit = Math.floor((KEYS_MAX_BYTES - 2) / 100);
  assert.ok(keysFit(Array(fit).fill(name)));
  assert.ok(!keysFit(Array(fit + 1).fill(name)));
  // Encoded, a non-ASCII or reserved character takes more than one byte.
  assert.ok(!keysFit(Array(fit).fill("ü".repeat(46))), "ü is %C3%BC: 6 bytes");
  assert.ok(keysFit([]));
});

Deno.test("inlineLookup(): the keys parameter becomes the lookup as a subquery with its filter", () => {
  const sql = `SELECT TagName AS tag, '{tags:Array(String)}' AS s -- {tags:Array(String)}
FROM WonderwareHistory FINAL WHERE TagName IN {tags:Array(String)} AND Value > 0`;
  const out = inlineLookup(sql, LOOKUP);
  assert.equal(
    out,
    `SELECT TagName AS tag, '{tags:Array(String)}' AS s -- {tags:Array(String)}
FROM WonderwareHistory FINAL WHERE TagName IN (SELECT \`tag\` FROM (
SELECT tag, machine, sensor_type, unit FROM MachineData FINAL WHERE machine != ''
)
WHERE ({machine:Nullable(String)} IS NULL OR toString(\`machine\`) = {machine:Nullable(String)}) AND ({sensor:Nullable(String)} IS NULL OR toString(\`sensor_type\`) = {sensor:Nullable(String)})) AND Value > 0`,
    "only the placeholder in code is replaced, not the ones in a literal or a comment",
  );
  assert.equal(
    inlineLookup("SELECT 1 WHERE x IN {tags:Array(String)}", { ...LOOKUP, match: {} }),
    `SELECT 1 WHERE x IN (SELECT \`tag\` FROM (\n${LOOKUP.sql}\n))`,
  );
});

Deno.test("joinRows(): each row gets its key's columns, in the declared order; unknown keys drop", () => {
  const found = byKey(DIM, "tag");
  const rows = [
    { time: "t1", tag: "A.L1.Press01.Speed", value: 1 },
    { time: "t2", tag: "gone", value: 2 },
    { time: "t3", tag: "A.L2.Oven02.Temp", value: 3 },
  ];
  const joined = joinRows(rows, found, "tag", ["time", "machine", "tag", "value", "unit"]);
  assert.deepEqual(joined, [
    { time: "t1", machine: "Press01", tag: "A.L1.Press01.Speed", value: 1, unit: "rpm" },
    { time: "t3", machine: "Oven02", tag: "A.L2.Oven02.Temp", value: 3, unit: "°C" },
  ]);
  assert.deepEqual(Object.keys(joined[0]!), ["time", "machine", "tag", "value", "unit"]);
  assert.deepEqual(Object.keys(joinRows(rows, found, "tag")[0]!), [
    "tag",
    "machine",
    "sensor_type",
    "unit",
    "time",
    "value",
  ]);
});

Deno.test("lookup: what validate refuses", () => {
  const issues = (r: unknown) =>
    route.safeParse(r).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
  const base = {
    params: { machine: { type: "string" }, sensor: { type: "string" } },
    lookup: { sql: LOOKUP.sql, match: LOOKUP.match, key: "tag", param: "tags" },
    sql: "SELECT TagName AS tag FROM h WHERE TagName IN {tags:Array(String)}",
  };
  assert.deepEqual(issues(base), []);
  assert.deepEqual(
    issues({
      ...base,
      params: { ...base.params, tags: { type: "string_list" }, n: { type: "int" } },
      lookup: {
        ...base.lookup,
        sql: "SELECT tag FROM m WHERE machine = {machine:String}",
        match: { machine: "n", site: "nope" },
      },
      sql: "SELECT TagName AS tag FROM h WHERE has({tags:Array(String)}, TagName)",
      response: "series",
    }),
    [
      "params.machine: is declared but no SQL of the route uses it",
      "params.sensor: is declared but no SQL of the route uses it",
      'lookup.param: "tags" is also a declared parameter; the lookup fills it, a request cannot',
      "lookup.sql: uses {machine:String}: a lookup's SQL takes no parameters (its answer is reused for every request); filter by a request's parameters with lookup.match",
      'lookup.match.machine: "n" is not a string parameter of this route',
      'lookup.match.site: "nope" is not a string parameter of this route',
      "lookup: adds columns to each row, so the route needs response: rows",
      "sql: use the lookup's keys as IN {tags:Array(String)} to filter the rows: keys too many for a query parameter are replaced by the lookup as a subquery",
    ],
  );
  assert.deepEqual(
    issues({
      ...base,
      sql:
        "SELECT 1 FROM h WHERE TagName IN {tags:Array(String)} OR length({tags:Array(String)}) > 9",
    }),
    [
      "sql: use the lookup's keys as IN {tags:Array(String)} only: keys too many for a query parameter are replaced by the lookup as a subquery",
    ],
  );
  assert.deepEqual(
    issues({ ...base, params: { ...base.params, unused: { type: "string" } } }),
    ["params.unused: is declared but no SQL of the route uses it"],
    "a parameter only lookup.match uses counts as used; one nothing uses does not",
  );
});
