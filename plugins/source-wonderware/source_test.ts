/**
 * The Wonderware source through its public interface, against the simulator over real TDS,
 * configured with YAML the way users configure it.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { PluginError } from "../../engine/errors.ts";
import { systemClock } from "../../engine/plugin.ts";
import type { Source } from "../../engine/plugin.ts";
import { parseSpec } from "../../engine/spec/load.ts";
import { formatTicks, parseTicks } from "../../engine/types.ts";
import type { Reading, TagInfo } from "../../engine/types.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import wonderware from "./mod.ts";
import { startSimulator } from "../../simulator/mod.ts";
import type { SimulatorOptions } from "../../simulator/mod.ts";

const NOW = parseTicks("2024-06-01T00:00:00Z");

async function open(sourceYaml: string, lines: string[] = []): Promise<Source> {
  const loaded = parseSpec(
    `version: 1\nsource:\n  wonderware:\n${
      sourceYaml.replace(/^/gm, "    ")
    }\nsink: {clickhouse: {host: ch}}\nbackfill: {from: now-1d}\n`,
    "test.yaml",
    { plugins, sections, env: () => undefined },
  );
  return await wonderware.create(loaded.plugins.source.options as never, {
    log: createLogger({ format: "json", write: (l) => lines.push(l) }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
}

async function withSource(
  simOptions: SimulatorOptions,
  yaml: string,
  fn: (source: Source, sim: Awaited<ReturnType<typeof startSimulator>>) => Promise<void>,
) {
  const sim = await startSimulator({ user: "reader", password: "pw", ...simOptions });
  const source = await open(
    `host: 127.0.0.1\nport: ${sim.port}\nuser: reader\npassword: pw\n${yaml}`,
  );
  try {
    await fn(source, sim);
  } finally {
    await source.close();
    await sim.close();
  }
}

async function readAll(
  source: Source,
  tags: readonly TagInfo[],
  from: string | bigint,
  to: string | bigint,
  batchSize?: number,
) {
  const out: Reading[] = [];
  const window = {
    from: typeof from === "string" ? parseTicks(from) : from,
    to: typeof to === "string" ? parseTicks(to) : to,
  };
  for await (const batch of source.read(tags, window, { batchSize })) {
    assert.ok(batch.readings.length > 0 && batch.readings.length <= (batchSize ?? 10_000));
    assert.equal(batch.fields?.wwRetrievalMode, "FULL");
    out.push(...batch.readings);
  }
  for (const r of out) {
    assert.ok(
      r.qualityCode !== 133 && r.fields?.QualityDetail !== 65536,
      "no fabricated initial-value row",
    );
    assert.ok(r.time > window.from && r.time <= window.to, "inside (from, to]");
  }
  return out;
}

const row = (r: Reading) => [
  formatTicks(r.time),
  r.tag,
  r.value,
  r.text,
  r.qualityCode,
  r.fields?.QualityDetail,
  r.fields?.OPCQuality,
];
const MIXED: SimulatorOptions = { dataset: "tests/fixtures/historian/mixed", now: () => NOW };

Deno.test("discover() gives analog tags their interpolation (the system default resolved) and integral divisor", async () => {
  const dataset = { dataset: "tests/fixtures/historian/summaries", now: () => NOW };
  await withSource(dataset, "tags: {types: [analog]}", async (source) => {
    assert.deepEqual(
      (await source.discover()).map((
        t,
      ) => [t.name, t.fields?.InterpolationType, t.fields?.IntegralDivisor]),
      [["Ramp", 1, 1], ["Step", 0, 3600], ["Uncertain", 1, 1]],
    );
  });
});

Deno.test("discover() lists the tags with type, description, unit and range, filtered by the spec", async () => {
  await withSource(MIXED, "", async (source) => {
    const tags = await source.discover();
    assert.deepEqual(tags, [
      {
        name: "Line1.Recipe",
        type: "string",
        description: "Recipe, as text",
        unit: undefined,
        min: undefined,
        max: undefined,
        fields: { wwTagKey: 3 },
      },
      {
        name: "Line1.Running",
        type: "discrete",
        description: "Line running",
        unit: undefined,
        min: undefined,
        max: undefined,
        fields: { wwTagKey: 2 },
      },
      {
        name: "Line1.Temp",
        type: "analog",
        description: "Oven temperature",
        unit: "°C",
        min: 0,
        max: 300,
        fields: { wwTagKey: 1, InterpolationType: 1, IntegralDivisor: 1 },
      },
      {
        name: `Tank "A" O'Level`,
        type: "analog",
        description: "A tag name with quotes",
        unit: "%",
        min: 0,
        max: 100,
        fields: { wwTagKey: 4, InterpolationType: 1, IntegralDivisor: 1 },
      },
    ]);
  });
  await withSource(
    MIXED,
    "tags: {include: ['line1.*'], exclude: ['*.Running'], types: [analog, string]}",
    async (source) => {
      assert.deepEqual((await source.discover()).map((t) => t.name), [
        "Line1.Recipe",
        "Line1.Temp",
      ]);
    },
  );
  await withSource({ plant: { analog: 3, discrete: 1, string: 1 } }, "", async (source) => {
    const names = (await source.discover()).map((t) => t.name);
    assert.equal(names.length, 5);
    assert.ok(!names.some((n) => n.startsWith("Sys")), "system tags are excluded by default");
  });
});

Deno.test("read() returns the dataset value for value: sub-ms times, NULL gaps, strings, discrete, quoted names", async () => {
  await withSource(MIXED, "", async (source) => {
    const tags = await source.discover();
    const got = (await readAll(source, tags, "2024-03-31T00:00:00Z", "2024-03-31T02:00:00Z", 4))
      .map(row);
    assert.deepEqual(got, [
      ["2024-03-31T00:30:00.0000000Z", "Line1.Running", 1, "1", 0, 192, 192],
      ["2024-03-31T00:59:59.9999999Z", "Line1.Temp", 180.5, "180.5", 0, 192, 192],
      ["2024-03-31T01:00:00.0000000Z", "Line1.Recipe", null, "Wheat, 500 g", 0, 192, 192],
      ["2024-03-31T01:00:00.0000000Z", "Line1.Running", 1, "1", 0, 192, 192],
      ["2024-03-31T01:00:00.0000000Z", "Line1.Temp", 181.25, "181.25", 0, 192, 192],
      ["2024-03-31T01:00:00.0001234Z", "Line1.Temp", 181.25, "181.25", 0, 192, 192],
      ["2024-03-31T01:00:00.5000001Z", `Tank "A" O'Level`, 42, "42", 0, 192, 192],
      ["2024-03-31T01:00:01.5000000Z", "Line1.Temp", null, null, 1, 249, 192],
      ["2024-03-31T01:00:02.0000000Z", "Line1.Running", 0, "0", 0, 192, 192],
      ["2024-03-31T01:00:02.0000000Z", "Line1.Temp", null, null, 1, 24, 24],
      ["2024-03-31T01:00:03.0000000Z", "Line1.Recipe", null, `Zoë's "special" ✓`, 0, 192, 192],
      [
        "2024-03-31T01:00:03.0000000Z",
        "Line1.Temp",
        -0.000123456789,
        "-0.000123456789",
        0,
        192,
        192,
      ],
      ["2024-03-31T01:00:04.0000000Z", "Line1.Recipe", null, null, 1, 24, 24],
      ["2024-03-31T01:00:04.0000000Z", "Line1.Temp", 1e-300, "1e-300", 0, 44, 192],
      ["2024-03-31T01:00:04.0000000Z", `Tank "A" O'Level`, 43.5, "43.5", 0, 192, 64],
    ]);
  });
});

Deno.test("rows name their tag by wwTagKey; a key changed since discovery fails one read, retriable, and the next reads every row", async () => {
  await withSource(MIXED, "", async (source) => {
    const tags = await source.discover();
    const read = (list: readonly TagInfo[]) =>
      readAll(source, list, "2024-03-31T00:00:00Z", "2024-03-31T02:00:00Z").then((rs) =>
        rs.map(row)
      );
    const expected = await read(tags);
    assert.equal(expected.length, 15);
    // Without keys (or with two tags sharing one) rows name their tag by TagName: the same rows.
    const keyless = tags.map((t) => ({ ...t, fields: undefined }));
    assert.deepEqual(await read(keyless), expected);
    const shared = tags.map((t) => ({ ...t, fields: { wwTagKey: 1 } }));
    assert.deepEqual(await read(shared), expected);
    // The tag list a cache kept from before Line1.Temp was deleted and created again.
    const stale = tags.map((t) =>
      t.name === "Line1.Temp" ? { ...t, fields: { wwTagKey: 987_654 } } : t
    );
    const error = await read(stale).then(() => undefined, (e) => e);
    assert.ok(error instanceof PluginError, String(error));
    assert.ok(error.retriable);
    assert.match(
      error.message,
      /History returned a row of wwTagKey \d+, which is none of the 4 tags read: a tag's key changed since discovery/,
    );
    assert.deepEqual(await read(stale), expected, "the keys were read again");
  });
});

Deno.test("adjacent windows read a point on their shared boundary exactly once", async () => {
  await withSource(MIXED, "", async (source) => {
    const tags = await source.discover();
    const boundary = "2024-03-31T01:00:00Z";
    const first = await readAll(source, tags, "2024-03-31T00:00:00Z", boundary);
    const second = await readAll(source, tags, boundary, "2024-03-31T02:00:00Z");
    const third = await readAll(
      source,
      tags,
      "2024-03-31T01:00:00.0001233Z",
      "2024-03-31T01:00:00.0001234Z",
    );
    assert.ok(
      first.some((r) => formatTicks(r.time) === "2024-03-31T01:00:00.0000000Z"),
      "the boundary point is in the first",
    );
    assert.ok(
      !second.some((r) => formatTicks(r.time) === "2024-03-31T01:00:00.0000000Z"),
      "and not in the second",
    );
    assert.equal(first.length + second.length, 15);
    assert.deepEqual(third.map(row), [[
      "2024-03-31T01:00:00.0001234Z",
      "Line1.Temp",
      181.25,
      "181.25",
      0,
      192,
      192,
    ]]);
  });
});

Deno.test("a Historian in a zone with daylight saving: the autumn fold hour reads every point once, in UTC order", async () => {
  const hour = 36_000_000_000n;
  const start = parseTicks("2026-10-24T22:00:00Z");
  const plant = {
    analog: 2,
    discrete: 1,
    string: 1,
    analogRateMs: 600_000,
    discreteRateMs: 900_000,
    stringRateMs: 1_800_000,
    historyMs: 86_400_000,
  };
  const readings: Reading[][] = [];
  for (const timezone of ["Europe/Berlin", "UTC"]) {
    await withSource({ timezone, plant, now: () => start + 8n * hour }, "", async (source) => {
      const tags = await source.discover();
      readings.push(await readAll(source, tags, start, start + 6n * hour));
    });
  }
  const [berlin, utc] = readings as [Reading[], Reading[]];
  assert.equal(berlin.length, utc.length);
  assert.deepEqual(berlin.map(row), utc.map(row));
  assert.ok(
    berlin.every((r, i) => i === 0 || r.time >= berlin[i - 1]!.time),
    "ascending UTC times",
  );
  const foldHour = berlin.filter((r) =>
    r.time >= parseTicks("2026-10-25T00:00:00Z") && r.time < parseTicks("2026-10-25T02:00:00Z")
  );
  assert.equal(
    new Set(foldHour.map((r) => `${r.tag}@${r.time}`)).size,
    foldHour.length,
    "no duplicate in the repeated hour",
  );
  assert.ok(foldHour.length > 0);
});

Deno.test("serverTime() is the Historian's clock, to the 100 ns", async () => {
  const now = parseTicks("2024-06-01T12:34:56.7654321Z");
  await withSource({ ...MIXED, now: () => now }, "", async (source) => {
    assert.equal(await source.serverTime(), now);
  });
});

Deno.test("a wrong password is one clear error and one login attempt, not a retry storm", async () => {
  const sim = await startSimulator({ ...MIXED, user: "reader", password: "right" });
  try {
    const error = await open(
      `host: 127.0.0.1\nport: ${sim.port}\nuser: reader\npassword: wrong-Pa55`,
    ).then(() => undefined, (e) => e);
    assert.ok(error instanceof PluginError);
    assert.ok(!error.retriable && !error.unavailable);
    assert.match(
      error.message,
      /^source-wonderware: login to 127\.0\.0\.1:\d+\/Runtime as "reader" was refused \(Login failed for user 'reader'\.\): check source\.wonderware\.user and source\.wonderware\.password;/,
    );
    assert.ok(!error.message.includes("wrong-Pa55"));
    assert.ok(sim.logins() <= 1, `${sim.logins()} login attempts`);
  } finally {
    await sim.close();
  }
});

Deno.test("a connection dropped mid-stream fails the read cleanly; reading the window again yields everything", async () => {
  await withSource(
    { plant: { analog: 4, discrete: 0, string: 0, historyMs: 7_200_000 } },
    "",
    async (source, sim) => {
      const tags = await source.discover();
      const now = await source.serverTime();
      const from = now - 3_000n * 10_000_000n;
      const to = now - 1_000n * 10_000_000n;
      sim.faults.dropResults(3_000);
      const partial: Reading[] = [];
      const error = await (async () => {
        for await (const batch of source.read(tags, { from, to }, { batchSize: 500 })) {
          partial
            .push(...batch.readings);
        }
      })().then(() => undefined, (e) => e);
      assert.ok(error instanceof PluginError, String(error));
      assert.ok(error.retriable, error.message);
      assert.ok(partial.length < 8_000);
      const full = await readAll(source, tags, from, to, 1_000);
      assert.equal(full.length, 8_000, "2000 s × 4 tags at 1 s");
      assert.deepEqual(
        partial.map(row),
        full.slice(0, partial.length).map(row),
        "what came before the drop was right",
      );
    },
  );
});
