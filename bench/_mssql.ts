/** For benchmarks: a bare npm:mssql client of the simulator, the way a naive extractor reads. */
import sql from "mssql";
import { BENCH_LOGIN } from "./_util.ts";

export async function benchPool(port: number): Promise<sql.ConnectionPool> {
  const pool = new sql.ConnectionPool({
    server: "127.0.0.1",
    port,
    ...BENCH_LOGIN,
    database: "Runtime",
    options: { encrypt: false, trustServerCertificate: true, packetSize: 32_767 },
    requestTimeout: 0,
  });
  await pool.connect();
  return pool;
}

/**
 * Streams Full-mode History rows of `tags` in `(from, to]` (UTC) and counts them; `columns` is
 * the select list (`*` for all 33).
 */
export async function countHistoryRows(
  pool: sql.ConnectionPool,
  tags: readonly string[],
  from: Date,
  to: Date,
  columns = "DateTime, TagName, Value, vValue, Quality, QualityDetail, OPCQuality",
): Promise<number> {
  const request = pool.request();
  request.stream = true;
  tags.forEach((t, i) => request.input(`t${i}`, sql.NVarChar(256), t));
  request.input("from", sql.DateTime2(7), from);
  request.input("to", sql.DateTime2(7), to);
  let rows = 0;
  await new Promise<void>((resolve, reject) => {
    request.on("row", () => void rows++);
    request.on("error", reject);
    request.on("done", () => resolve());
    request.query(
      `SELECT ${columns} FROM History WHERE TagName IN (${
        tags.map((_, i) => `@t${i}`).join(", ")
      }) ` +
        `AND DateTime > @from AND DateTime <= @to AND wwRetrievalMode = 'Full' AND wwVersion = 'Latest' AND wwTimeZone = 'UTC'`,
    );
  });
  return rows;
}
