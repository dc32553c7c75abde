/**
 * The simulator through npm:mssql over real TDS, item by item of the reference's simulator
 * checklist (shared/reference/historian.md §10), each compared with the model's own data.
 */
import assert from "node:assert/strict";
import sql from "mssql";
import { parseTicks } from "../engine/types.ts";
import { startSimulator } from "./mod.ts";
import type { Simulator, SimulatorOptions } from "./mod.ts";

type Row = Record<string, unknown>;
type Rows = Row[] & {
  columns: Record<string, { index: number; name: string; type: unknown; scale?: number }>;
};
type Query = (text: string, params?: Record<string, unknown>) => Promise<Rows>;

const T = parseTicks;
const utc = (d: Date & { nanosecondsDelta?: number }) =>
  d.toISOString().replace("Z", "") +
  String(Math.round((d.nanosecondsDelta ?? 0) * 1e7)).padStart(4, "0");

async function withSim(
  options: SimulatorOptions,
  fn: (sim: Simulator, query: Query, pool: sql.ConnectionPool) => Promise<void>,
) {
  const login = { user: "reader", password: "Reader-pw1" };
  const sim = await startSimulator({ ...login, ...options });
  const pool = new sql.ConnectionPool({
    server: "127.0.0.1",
    port: sim.port,
    ...login,
    database: "Runtime",
    options: { encrypt: false, trustServerCertificate: true },
    pool: { max: 2 },
  });
  await pool.connect();
  const query = async (text: string, params: Record<string, unknown> = {}) => {
    const request = pool.request();
    for (const [k, v] of Object.entries(params)) {
      if (v instanceof Date) request.input(k, sql.DateTime2(7), v);
      else request.input(k, v);
    }
    return (await request.query(text)).recordset as unknown as Rows;
  };
  try {
    await fn(sim, query, pool);
  } finally {
    await pool.close();
    await sim.close();
  }
}

const DATASET = "tests/fixtures/historian";
const EXAMPLE = { dataset: `${DATASET}/delta_example`, now: () => T("2024-06-01T00:00:00Z") };
const MIXED = { dataset: `${DATASET}/mixed`, now: () => T("2024-06-01T00:00:00Z") };

Deno.test("the worked Delta example of the reference comes back row for row", async () => {
  await withSim(EXAMPLE, async (_, q) => {
    const rows = await q(
      `SELECT DateTime, Value, Quality, QualityDetail FROM History WHERE TagName = 'ReactorLevel'
       AND DateTime >= '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:40' AND wwRetrievalMode = 'Delta'`,
    );
    assert.deepEqual(
      rows.map((
        r,
      ) => [(r.DateTime as Date).toISOString().slice(11, 16), r.Value, r.Quality, r.QualityDetail]),
      [
        ["00:20", 1.3, 133, 192],
        ["00:21", 2, 0, 192],
        ["00:24", 1.2, 0, 192],
        ["00:28", null, 1, 249],
        ["00:32", 0.6, 0, 192],
        ["00:35", null, 1, 24],
        ["00:37", 1.5, 0, 192],
      ],
    );
  });
});

Deno.test("start and end operators: >= adds the initial row, > none, <= and < bound the end", async () => {
  await withSim(EXAMPLE, async (_, q) => {
    const times = async (where: string, mode = "Full") =>
      (await q(
        `SELECT DateTime, Quality, QualityDetail, OPCQuality, Value FROM History WHERE TagName = 'ReactorLevel' AND ${where} AND wwRetrievalMode = '${mode}'`,
      ))
        .map((r) => `${(r.DateTime as Date).toISOString().slice(11, 16)}/${r.Quality}`);
    assert.deepEqual(
      await times("DateTime >= '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:24'"),
      ["00:20/133", "00:21/0", "00:24/0"],
    );
    assert.deepEqual(
      await times("DateTime > '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:24'"),
      ["00:21/0", "00:24/0"],
    );
    assert.deepEqual(
      await times("DateTime >= '2024-01-01 00:21' AND DateTime < '2024-01-01 00:24'"),
      ["00:21/0"],
    );
    assert.deepEqual(
      await times("DateTime > '2024-01-01 00:21' AND DateTime <= '2024-01-01 00:21'"),
      [],
    );
    assert.deepEqual(await times("DateTime BETWEEN '2024-01-01 00:27' AND '2024-01-01 00:28'"), [
      "00:27/0",
      "00:28/1",
    ]);
    // Nothing before the start: a NULL row, Quality 1, QualityDetail 65536, OPCQuality 0.
    const [nul] = await q(
      `SELECT Value, Quality, QualityDetail, OPCQuality FROM History WHERE TagName = 'ReactorLevel'
      AND DateTime >= '2024-01-01 00:00' AND DateTime < '2024-01-01 00:01' AND wwRetrievalMode = 'Full'`,
    );
    assert.deepEqual({ ...nul }, { Value: null, Quality: 1, QualityDetail: 65536, OPCQuality: 0 });
    // Full keeps the repeated value at 00:27 that Delta drops.
    assert.ok(
      (await times("DateTime > '2024-01-01 00:26' AND DateTime <= '2024-01-01 00:27'")).includes(
        "00:27/0",
      ),
    );
    assert.deepEqual(
      await times("DateTime > '2024-01-01 00:26' AND DateTime <= '2024-01-01 00:27'", "Delta"),
      ["00:27/0"],
    );
  });
});

Deno.test("History has the 33 columns in order, with datetime2(7), tinyint, int and float types", async () => {
  await withSim(MIXED, async (_, q) => {
    const rs = await q(
      "SELECT * FROM History WHERE TagName = 'Line1.Temp' AND DateTime > '2024-03-31' AND wwRetrievalMode = 'Full'",
    );
    const columns = Object.values(rs.columns).sort((a, b) => a.index - b.index);
    assert.equal(columns.length, 33);
    assert.deepEqual(columns.slice(0, 8).map((c) => c.name), [
      "DateTime",
      "TagName",
      "Value",
      "vValue",
      "Quality",
      "QualityDetail",
      "OPCQuality",
      "wwTagKey",
    ]);
    assert.equal(columns.at(-1)!.name, "wwUnit");
    const type = (name: string) =>
      (rs.columns[name]!.type as unknown as { declaration: string }).declaration;
    assert.equal(type("DateTime"), "datetime2");
    assert.equal(rs.columns.DateTime!.scale, 7);
    assert.equal(type("Quality"), "tinyint");
    assert.equal(type("QualityDetail"), "int");
    assert.equal(type("Value"), "float");
    assert.equal(type("vValue"), "nvarchar");
    assert.equal(rs[0]!.wwRetrievalMode, "FULL");
    assert.equal(rs[0]!.wwVersion, "LATEST");
  });
});

Deno.test("exact values: sub-millisecond times, NULL gaps, strings in vValue, discrete values, quoted tag names", async () => {
  await withSim(MIXED, async (_, q) => {
    const rows = await q(
      `SELECT DateTime, TagName, Value, vValue, Quality, QualityDetail, OPCQuality FROM History
       WHERE TagName IN (@a, @b, @c, @d) AND DateTime > @from AND DateTime <= @to
       AND wwRetrievalMode = 'Full' AND wwTimeZone = 'UTC'`,
      {
        a: "Line1.Temp",
        b: "Line1.Running",
        c: "Line1.Recipe",
        d: `Tank "A" O'Level`,
        from: new Date("2024-03-31T00:00:00Z"),
        to: new Date("2024-03-31T02:00:00Z"),
      },
    );
    const got = rows.map((
      r,
    ) => [
      utc(r.DateTime as Date),
      r.TagName,
      r.Value,
      r.vValue,
      r.Quality,
      r.QualityDetail,
      r.OPCQuality,
    ]);
    assert.deepEqual(got, [
      ["2024-03-31T00:30:00.0000000", "Line1.Running", 1, "1", 0, 192, 192],
      ["2024-03-31T00:59:59.9999999", "Line1.Temp", 180.5, "180.5", 0, 192, 192],
      ["2024-03-31T01:00:00.0000000", "Line1.Temp", 181.25, "181.25", 0, 192, 192],
      ["2024-03-31T01:00:00.0000000", "Line1.Running", 1, "1", 0, 192, 192],
      ["2024-03-31T01:00:00.0000000", "Line1.Recipe", null, "Wheat, 500 g", 0, 192, 192],
      ["2024-03-31T01:00:00.0001234", "Line1.Temp", 181.25, "181.25", 0, 192, 192],
      ["2024-03-31T01:00:00.5000001", `Tank "A" O'Level`, 42, "42", 0, 192, 192],
      ["2024-03-31T01:00:01.5000000", "Line1.Temp", null, null, 1, 249, 192],
      ["2024-03-31T01:00:02.0000000", "Line1.Temp", null, null, 1, 24, 24],
      ["2024-03-31T01:00:02.0000000", "Line1.Running", 0, "0", 0, 192, 192],
      [
        "2024-03-31T01:00:03.0000000",
        "Line1.Temp",
        -0.000123456789,
        "-0.000123456789",
        0,
        192,
        192,
      ],
      ["2024-03-31T01:00:03.0000000", "Line1.Recipe", null, `Zoë's "special" ✓`, 0, 192, 192],
      ["2024-03-31T01:00:04.0000000", "Line1.Temp", 1e-300, "1e-300", 0, 44, 192],
      ["2024-03-31T01:00:04.0000000", "Line1.Recipe", null, null, 1, 24, 24],
      ["2024-03-31T01:00:04.0000000", `Tank "A" O'Level`, 43.5, "43.5", 0, 192, 64],
    ], "ordered by DateTime, then in the order the tags were listed");
  });
});

Deno.test("server-local times by default, daylight saving and its repeated autumn hour included", async () => {
  const hour = 36_000_000_000n;
  const start = T("2026-10-24T22:00:00Z");
  await withSim(
    {
      timezone: "Europe/Berlin",
      plant: {
        analog: 1,
        discrete: 0,
        string: 0,
        analogRateMs: 1_800_000,
        systemTags: false,
        historyMs: 86_400_000,
      },
      now: () => start + 8n * hour,
    },
    async (sim, q) => {
      const tag = sim.tags[0]!.name;
      // Local 00:00 .. 05:00 on the night the clocks go back spans six UTC hours.
      const local = await q(
        `SELECT DateTime, Value FROM History WHERE TagName = @t AND DateTime > '2026-10-25 00:00' AND DateTime <= '2026-10-25 05:00' AND wwRetrievalMode = 'Full'`,
        { t: tag },
      );
      const inUtc = await q(
        `SELECT DateTime, Value FROM History WHERE TagName = @t AND DateTime > '2026-10-24 22:00' AND DateTime <= '2026-10-25 04:00' AND wwRetrievalMode = 'Full' AND wwTimeZone = 'UTC'`,
        { t: tag },
      );
      const hhmm = (rows: typeof local) =>
        rows.map((r) => (r.DateTime as Date).toISOString().slice(11, 16));
      assert.deepEqual(hhmm(inUtc), [
        "22:30",
        "23:00",
        "23:30",
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
        "04:00",
      ]);
      assert.deepEqual(hhmm(local), [
        "00:30",
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
        "04:00",
        "04:30",
        "05:00",
      ]);
      assert.deepEqual(
        local.map((r) => r.Value),
        inUtc.map((r) => r.Value),
        "the same points, the fold hour twice",
      );
      const [echo] = await q(
        `SELECT TOP 1 wwTimeZone FROM History WHERE TagName = @t AND DateTime > '2026-10-25 00:00' AND wwRetrievalMode = 'Full'`,
        { t: tag },
      );
      assert.equal(echo!.wwTimeZone, "Europe/Berlin");
    },
  );
});

Deno.test("Cyclic returns the last value at each boundary: 100 cycles by default, wwResolution, wwCycleCount", async () => {
  await withSim(EXAMPLE, async (_, q) => {
    const base =
      `SELECT DateTime, Value, Quality FROM History WHERE TagName = 'ReactorLevel' AND DateTime >= '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:40' AND wwRetrievalMode = 'Cyclic'`;
    assert.equal((await q(base)).length, 100);
    const byRes = await q(`${base} AND wwResolution = 300000`);
    assert.deepEqual(
      byRes.map((r) => [(r.DateTime as Date).toISOString().slice(11, 16), r.Value]),
      [
        ["00:20", 1.3],
        ["00:25", 1.2],
        ["00:30", null],
        ["00:35", null],
        ["00:40", 1.5],
      ],
    );
    assert.equal((await q(`${base} AND wwCycleCount = 3`)).length, 3);
    assert.equal((await q(`${base} AND wwCycleCount = 0 AND wwResolution = 0`)).length, 100_000);
  });
});

Deno.test("wwVersion: LATEST shows revisions with QualityDetail 202, ORIGINAL the first-stored values", async () => {
  await withSim(EXAMPLE, async (sim, q) => {
    sim.late.revise("ReactorLevel", T("2024-01-01T00:21:00Z"), { value: 2.5 });
    const at =
      `TagName = 'ReactorLevel' AND DateTime > '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:21' AND wwRetrievalMode = 'Full'`;
    const [latest] = await q(`SELECT Value, QualityDetail, wwVersion FROM History WHERE ${at}`);
    assert.deepEqual({ ...latest }, { Value: 2.5, QualityDetail: 202, wwVersion: "LATEST" });
    const [original] = await q(
      `SELECT Value, QualityDetail, wwVersion FROM History WHERE ${at} AND wwVersion = 'original'`,
    );
    assert.deepEqual({ ...original }, { Value: 2, QualityDetail: 192, wwVersion: "ORIGINAL" });
  });
});

Deno.test("late data: store-and-forward points appear behind the clock, and not in Live", async () => {
  let now = T("2024-01-01T00:50:00Z");
  await withSim({ ...EXAMPLE, now: () => now }, async (sim, q) => {
    const window =
      `TagName = 'ReactorLevel' AND DateTime > '2024-01-01 00:40' AND wwRetrievalMode = 'Full' AND wwTimeZone = 'UTC'`;
    assert.equal((await q(`SELECT DateTime FROM History WHERE ${window}`)).length, 0);
    sim.late.insert("ReactorLevel", [{
      t: T("2024-01-01T00:45:00.0000001Z"),
      value: 9.75,
      text: null,
      qd: 248,
      opc: 192,
    }]);
    const rows = await q(`SELECT DateTime, Value, QualityDetail FROM History WHERE ${window}`);
    assert.deepEqual(rows.map((r) => [utc(r.DateTime as Date), r.Value, r.QualityDetail]), [[
      "2024-01-01T00:45:00.0000001",
      9.75,
      248,
    ]]);
    const live = await q("SELECT DateTime, Value FROM Live WHERE TagName = 'ReactorLevel'");
    assert.deepEqual(live.map((r) => r.Value), [1.5], "Live still shows the newest streamed value");
    // Held-back points (a network outage) appear when released.
    sim.late.hold(
      (t) => t === "ReactorLevel",
      T("2024-01-01T00:30:00Z"),
      T("2024-01-01T00:40:00Z"),
    );
    const during = await q(
      `SELECT COUNT(*) AS n FROM History WHERE TagName = 'ReactorLevel' AND DateTime > '2024-01-01 00:30' AND wwRetrievalMode = 'Full'`,
    );
    assert.equal(during[0]!.n, 1, "only the late point after the hold");
    sim.late.release();
    now += 10n;
    const after = await q(
      `SELECT COUNT(*) AS n FROM History WHERE TagName = 'ReactorLevel' AND DateTime > '2024-01-01 00:30' AND wwRetrievalMode = 'Full'`,
    );
    assert.equal(after[0]!.n, 4);
  });
});

Deno.test("queries the Historian refuses get SQL Server errors, not wrong answers", async () => {
  await withSim(EXAMPLE, async (_, q) => {
    const fails = async (text: string, number: number, message: RegExp) => {
      const e = await q(text).then(
        () => undefined,
        (err: { number: number; message: string }) => err,
      );
      assert.ok(e, `${text} succeeded`);
      assert.equal(e.number, number, `${text}: ${e.message}`);
      assert.match(e.message, message);
    };
    await fails("SELECT * FROM History", 7320, /Historian did not receive a WHERE clause/);
    await fails(
      "SELECT * FROM History WHERE TagName = 'ReactorLevel' AND DateTime > '2024-01-01' AND wwVersion IN ('original', 'latest')",
      7320,
      /wwVersion only as wwVersion = <value>/,
    );
    await fails(
      "SELECT * FROM History WHERE TagName = 'ReactorLevel' AND DateTime > '2024-01-01' AND (wwRetrievalMode = 'delta' OR wwVersion = 'latest')",
      7320,
      /only as .* = <value>/,
    );
    await fails(
      "SELECT * FROM History WHERE TagName = 'ReactorLevel' AND DateTime > '2024-01-01' AND wwRetrievalMode = 'BestFit'",
      7320,
      /does not implement wwRetrievalMode 'BESTFIT'/,
    );
    await fails("SELECT * FROM Nowhere", 208, /Invalid object name 'Nowhere'/);
    await fails("SELECT Nope FROM TagRef", 207, /Invalid column name 'Nope'/);
    await fails(
      "SELECT * FROM TagRef WHERE TagName = @missing",
      137,
      /Must declare the scalar variable "@missing"/,
    );
    await fails(
      "SELECT * FROM TagRef t JOIN Tag g ON t.TagName = g.TagName",
      102,
      /Joins are not supported/,
    );
    await fails("SELECT TagName FROM TagRef WHERE", 102, /Incorrect syntax near 'WHERE'/);
    await fails("UPDATE TagRef SET TagType = 1", 102, /Incorrect syntax near 'UPDATE'/);
    await fails("SELECT 'unclosed", 105, /Unclosed quotation mark/);
  });
});

Deno.test("the Runtime tables describe the tags; names work plain, Runtime.dbo. and INSQL.Runtime.dbo.", async () => {
  await withSim(MIXED, async (_, q) => {
    for (
      const table of [
        "TagRef",
        "Runtime.dbo.TagRef",
        "[Runtime].[dbo].[TagRef]",
        '"dbo"."TagRef"',
        "INSQL.Runtime.dbo.TagRef",
      ]
    ) {
      const rows = await q(`SELECT TagName, TagType FROM ${table} ORDER BY TagName`);
      assert.equal(rows.length, 4, table);
    }
    const analog = await q(
      "SELECT a.TagName, MinEU, MaxEU, Unit FROM AnalogTag a WHERE TagName LIKE 'Line1%'".replace(
        "a.TagName, MinEU, MaxEU, Unit",
        "TagName, MinEU, MaxEU, EUKey",
      ),
    );
    assert.deepEqual(analog.map((r) => [r.TagName, r.MinEU, r.MaxEU]), [["Line1.Temp", 0, 300]]);
    const units = await q("SELECT EUKey, Unit FROM EngineeringUnit ORDER BY Unit");
    assert.deepEqual(units.map((r) => r.Unit), ["%", "°C"]);
    assert.deepEqual((await q("SELECT TagName FROM StringTag")).map((r) => r.TagName), [
      "Line1.Recipe",
    ]);
    assert.deepEqual(
      (await q("SELECT TagName, MessageKey FROM DiscreteTag")).map((r) => r.TagName),
      ["Line1.Running"],
    );
    assert.equal(
      (await q("SELECT QualityString FROM QualityMap WHERE QualityDetail = 65536"))[0]!
        .QualityString,
      "No data at or before the query start",
    );
    assert.deepEqual({
      ...(await q(
        "SELECT COUNT(*) AS n FROM Tag WHERE TagType IN (1, 3) AND Description LIKE '%e%'",
      ))[0],
    }, { n: 3 });
    const [one] = await q("SELECT 1 AS one, @@VERSION AS v, SYSUTCDATETIME() AS now");
    assert.equal(one!.one, 1);
    assert.match(one!.v as string, /Historian simulator/);
    assert.equal((one!.now as Date).toISOString(), "2024-06-01T00:00:00.000Z");
  });
});

Deno.test("faults: a connection dropped mid-result fails the request cleanly; the next one works", async () => {
  await withSim(
    { plant: { analog: 2, discrete: 0, string: 0, historyMs: 3_600_000 } },
    async (sim, q) => {
      const text =
        `SELECT DateTime, Value FROM History WHERE TagName = @t AND DateTime > @s AND wwRetrievalMode = 'Full'`;
      const params = { t: sim.tags[2]!.name, s: new Date(Date.now() - 1_800_000) };
      sim.faults.dropResults(500);
      const e = await q(text, params).then(() => undefined, (err: Error) => err);
      assert.ok(e, "the request failed");
      const rows = await q(text, params);
      assert.ok(rows.length >= 1_799, `a retry reads everything (${rows.length} rows)`);
    },
  );
});

Deno.test("cancel: a streaming request is cancelled with an attention and the connection stays usable", async () => {
  await withSim(
    { plant: { analog: 2, discrete: 0, string: 0, historyMs: 86_400_000 } },
    async (sim, _q, pool) => {
      const request = pool.request();
      request.stream = true;
      request.input("t", sim.tags[2]!.name);
      let rows = 0;
      const finished = new Promise<unknown>((resolve) => {
        request.on("row", () => {
          if (++rows === 1_000) request.cancel();
        });
        request.on("error", resolve);
        request.on("done", () => resolve(undefined));
      });
      request.query(
        "SELECT DateTime, Value FROM History WHERE TagName = @t AND DateTime > '2000-01-01' AND wwRetrievalMode = 'Full'",
      );
      const error = await finished as { code?: string } | undefined;
      assert.equal(error?.code, "ECANCEL");
      assert.ok(rows < 86_400, `stopped early (${rows} rows)`);
      const again = await pool.request().query("SELECT 1 AS one");
      assert.equal(again.recordset[0]!.one, 1);
    },
  );
});

Deno.test("Delta with wwCycleCount = N returns the first N rows in total", async () => {
  await withSim(MIXED, async (_, q) => {
    const rows = await q(
      `SELECT DateTime, TagName FROM History WHERE TagName IN ('Line1.Temp', 'Line1.Running') AND DateTime > '2024-03-31'
       AND wwRetrievalMode = 'Delta' AND wwCycleCount = 3 AND wwTimeZone = 'UTC'`,
    );
    assert.deepEqual(rows.map((r) => r.TagName), ["Line1.Running", "Line1.Temp", "Line1.Temp"]);
  });
});

Deno.test("RPC parameters of every type the clients send arrive as their values", async () => {
  await withSim(MIXED, async (_, _q, pool) => {
    const r = pool.request();
    r.input("nv", sql.NVarChar, "Zoë ✓");
    r.input("vc", sql.VarChar(20), "plain text");
    r.input("i", sql.Int, -42);
    r.input("bi", sql.BigInt, "9007199254740993");
    r.input("f", sql.Float, 1.5e-7);
    r.input("b", sql.Bit, true);
    r.input("dt", sql.DateTime, new Date("2024-01-02T03:04:05.677Z"));
    r.input("dt2", sql.DateTime2(7), new Date("2024-01-02T03:04:05.678Z"));
    r.input("dto", sql.DateTimeOffset(7), new Date("2024-01-02T03:04:05.678Z"));
    r.input("nul", sql.Int, null);
    const result = await r.query(
      "SELECT @nv AS nv, @vc AS vc, @i AS i, @bi AS bi, @f AS f, @b AS b, @dt AS dt, @dt2 AS dt2, @dto AS dto, @nul AS nul",
    );
    const row = result.recordset[0] as Record<string, unknown>;
    assert.equal(row.nv, "Zoë ✓");
    assert.equal(row.vc, "plain text");
    assert.equal(row.i, -42);
    assert.equal(String(row.bi), "9007199254740993");
    assert.equal(row.f, 1.5e-7);
    assert.equal(row.b, true);
    assert.equal((row.dt as Date).toISOString(), "2024-01-02T03:04:05.677Z");
    assert.equal((row.dt2 as Date).toISOString(), "2024-01-02T03:04:05.678Z");
    assert.equal((row.dto as Date).toISOString(), "2024-01-02T03:04:05.678Z");
    assert.equal(row.nul, null);
  });
});

Deno.test("transaction manager requests (as python-tds sends after login, tedious on beginTransaction): begin, commit, rollback; SET IMPLICIT_TRANSACTIONS", async () => {
  await withSim(MIXED, async (_sim, query, pool) => {
    const tx = new sql.Transaction(pool);
    await tx.begin();
    const inside = await new sql.Request(tx).query("SELECT COUNT(*) AS n FROM Tag");
    assert.ok(Number(inside.recordset[0].n) > 0);
    await tx.commit();
    const rolled = new sql.Transaction(pool);
    await rolled.begin(sql.ISOLATION_LEVEL.READ_COMMITTED);
    await new sql.Request(rolled).query("SELECT TOP 1 TagName FROM TagRef");
    await rolled.rollback();
    // python-tds runs with implicit transactions by default.
    assert.deepEqual(await query("SET IMPLICIT_TRANSACTIONS ON; SELECT 1 AS one"), [{ one: 1 }]);
  });
});

Deno.test("tag names compare case-insensitively; a dataset with two names differing in case is refused", async () => {
  await withSim(MIXED, async (_sim, query) => {
    const rows = await query(
      "SELECT TagName, COUNT(*) AS n FROM History WHERE TagName IN ('line1.TEMP') AND DateTime > '2024-03-30' AND DateTime <= '2024-04-02' AND wwRetrievalMode = 'Full' GROUP BY TagName",
    );
    assert.equal(rows.length, 1);
    assert.ok(Number(rows[0]!.n) > 0);
  });
  await assert.rejects(
    () => startSimulator({ dataset: `${DATASET}/case_clash`, allowAnyLogin: true }),
    /tags\.csv:3: tag "LINE1\.TEMP" differs from tag "Line1\.Temp" only in case/,
  );
});
