import assert from "node:assert/strict";
import { compilePattern, resolveAssets, unknownPlaceholders } from "./assets.ts";
import type { TagInfo } from "./types.ts";

const tags: TagInfo[] = [
  { name: "Hamburg.L1.Press01.Temperature", type: "analog", unit: "°C" },
  { name: "Hamburg.L1.Press01.Running", type: "discrete" },
  { name: "Pump7.Flow", type: "analog", unit: "m3/h" },
  { name: "SysTimeSec", type: "analog" },
];

Deno.test("resolveAssets() applies the first matching rule, with regex groups and tag metadata", () => {
  const rows = resolveAssets(
    {
      columns: ["site", "machine", "machine_type", "sensor_type", "unit"],
      rules: [
        {
          tags: "/^(?<site>[^.]+)\\.[^.]+\\.(?<machine>(?<kind>[A-Za-z]+)\\d*)\\.(?<sensor>.+)$/",
          set: {
            site: "{site}",
            machine: "{machine}",
            machine_type: "{kind}",
            sensor_type: "{sensor}",
            unit: "{unit}",
          },
        },
        { tags: "Pump?.*", set: { machine: "Pump7", unit: "{unit} ({type})" } },
        { tags: "*", set: { machine: "never reached for Pump7" } },
      ],
    },
    tags,
    "plant1",
  );
  assert.deepEqual(rows.map((r) => [r.tag, r.attributes]), [
    ["Hamburg.L1.Press01.Temperature", {
      site: "Hamburg",
      machine: "Press01",
      machine_type: "Press",
      sensor_type: "Temperature",
      unit: "°C",
    }],
    ["Hamburg.L1.Press01.Running", {
      site: "Hamburg",
      machine: "Press01",
      machine_type: "Press",
      sensor_type: "Running",
      unit: "",
    }],
    ["Pump7.Flow", {
      site: "",
      machine: "Pump7",
      machine_type: "",
      sensor_type: "",
      unit: "m3/h (analog)",
    }],
    ["SysTimeSec", {
      site: "",
      machine: "never reached for Pump7",
      machine_type: "",
      sensor_type: "",
      unit: "",
    }],
  ]);
  assert.deepEqual(rows[0], {
    tag: "Hamburg.L1.Press01.Temperature",
    attributes: rows[0]!.attributes,
    description: "",
    unit: "°C",
    min: null,
    max: null,
    type: "analog",
    source: "plant1",
  });
});

Deno.test("resolveAssets() lists a tag no rule matches, with empty attributes", () => {
  const rows = resolveAssets(
    { columns: ["machine"], rules: [{ tags: "Hamburg.*", set: { machine: "x" } }] },
    [{ name: "Lone.Tag", type: "string", description: "alone", min: 0, max: 5 }],
    "p",
  );
  assert.deepEqual(rows, [{
    tag: "Lone.Tag",
    attributes: { machine: "" },
    description: "alone",
    unit: "",
    min: 0,
    max: 5,
    type: "string",
    source: "p",
  }]);
});

Deno.test("compilePattern() treats globs literally apart from * and ?", () => {
  assert.ok(compilePattern("L1.(a)+*").test("L1.(a)+xyz"));
  assert.ok(!compilePattern("L1.*").test("L1x"));
  assert.throws(() => compilePattern("/(/"), /invalid regular expression \/\(\//);
});

Deno.test("unknownPlaceholders() names placeholders no group or metadata provides", () => {
  assert.deepEqual(unknownPlaceholders(compilePattern("/(?<a>x)/"), "{a}-{unit}-{b}-{tag}"), ["b"]);
});
