/**
 * History reads with rows decoded from the TDS stream against the same reads through the
 * driver: the simulator over real TDS, every value compared.
 */
import assert from "node:assert/strict";
import sql from "./_mssql.ts";
import { parseTicks } from "../../engine/types.ts";
import type { Reading, TagInfo } from "../../engine/types.ts";
import { startSimulator } from "../../simulator/mod.ts";
import type { SimulatorOptions } from "../../simulator/mod.ts";
import { normalizedQuality, readHistory } from "./read.ts";
import type { ReaderDeps } from "./read.ts";

async function bothWays(
  options: SimulatorOptions,
  window: { from: string; to: string },
  batchSize: number,
  check: (decoded: Reading[], driven: Reading[]) => void,
) {
  const sim = await startSimulator({ user: "reader", password: "pw", ...options });
  const pool = new sql.ConnectionPool({
    server: "127.0.0.1",
    port: sim.port,
    user: "reader",
    password: "pw",
    database: "Runtime",
    options: { encrypt: false, trustServerCertificate: true },
  });
  try {
    await pool.connect();
    const tagRef = await pool.request().query("SELECT TagName, wwTagKey FROM TagRef");
    const tags: TagInfo[] = tagRef.recordset.map((r: { TagName: string; wwTagKey: number }) => ({
      name: r.TagName,
      type: "analog",
      fields: { wwTagKey: r.wwTagKey },
    }));
    const range = { from: parseTicks(window.from), to: parseTicks(window.to) };
    const read = async (decodeRows: boolean) => {
      const deps: ReaderDeps = {
        pool,
        address: "sim",
        mode: "Full",
        echoes: new Map(),
        keys: new Map(),
        decodeRows,
      };
      const out: Reading[] = [];
      for await (const batch of readHistory(deps, tags, range, { batchSize })) {
        assert.ok(batch.readings.length <= batchSize);
        out.push(...batch.readings);
        await new Promise((r) => setTimeout(r, 0)); // a consumer slower than the wire
      }
      return { out, decodedRows: deps.decodedRows ?? 0 };
    };
    const decoded = await read(true);
    const driven = await read(false);
    assert.equal(decoded.decodedRows, decoded.out.length, "every row decoded from the stream");
    assert.equal(driven.decodedRows, 0);
    check(decoded.out, driven.out);
  } finally {
    await pool.close();
    await sim.close();
  }
}

Deno.test("rows decoded from the TDS stream equal the driver's: sub-ms times, NULL gaps, strings, quoted names", async () => {
  await bothWays(
    {
      dataset: "tests/fixtures/historian/mixed",
      now: () => parseTicks("2024-06-01T00:00:00Z"),
    },
    { from: "2024-01-01T00:00:00Z", to: "2024-06-01T00:00:00Z" },
    10_000,
    (decoded, driven) => {
      assert.ok(decoded.length > 10);
      assert.ok(decoded.some((r) => r.text !== null) && decoded.some((r) => r.value === null));
      assert.deepEqual(decoded, driven);
    },
  );
});

Deno.test("rows decoded from the TDS stream pause with a slow consumer and lose none", async () => {
  await bothWays(
    {
      plant: { analog: 20, discrete: 2, string: 2, historyMs: 7_200_000, systemTags: false },
      now: () => parseTicks("2024-06-01T00:00:00Z"),
    },
    { from: "2024-05-31T23:00:00Z", to: "2024-06-01T00:00:00Z" },
    997,
    (decoded, driven) => {
      assert.ok(decoded.length > 20 * 3000, `${decoded.length} rows`);
      assert.deepEqual(decoded, driven);
    },
  );
});

Deno.test("normalizedQuality() says uncertain for OPCQuality 64–191, which Quality stores as good", () => {
  assert.equal(normalizedQuality(0, 192), "good");
  assert.equal(normalizedQuality(0, 216), "good");
  assert.equal(normalizedQuality(0, null), "good");
  assert.equal(normalizedQuality(0, 64), "uncertain");
  assert.equal(normalizedQuality(0, 191), "uncertain");
  assert.equal(normalizedQuality(16, 192), "uncertain");
  assert.equal(normalizedQuality(1, 0), "bad");
});
