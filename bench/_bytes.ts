/**
 * What the benchmarks' tables cost on disk, as ClickHouse keeps them once merged: every
 * MergeTree table of the database is merged with OPTIMIZE … FINAL (duplicates collapsed, parts
 * compressed with their codecs), then system.parts gives each table's rows and compressed bytes,
 * and system.parts_columns where the raw table's bytes go, column by column.
 */

/** Runs one statement in the benchmark's database; rows as JSON objects. */
export type Sql = (sql: string) => Promise<Record<string, unknown>[]>;

export interface StorageReport {
  /** Bytes on disk per stored row, of every table (the raw table's: per stored reading). */
  bytes_per_reading: Record<string, number>;
  /** Rows and compressed bytes of every table. */
  tables: Record<string, { rows: number; bytes: number }>;
  /** The raw table's bytes per reading, column by column (ALIAS columns store nothing). */
  raw_columns: Record<string, number>;
  /** Every table's bytes together, per raw reading: what a reading costs with its summaries. */
  all_tables_per_reading: number;
}

const per = (bytes: number, rows: number) => rows > 0 ? Math.round(bytes / rows * 1000) / 1000 : 0;

export async function storageReport(sql: Sql, raw: string): Promise<StorageReport> {
  const tables = await sql(
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' ORDER BY name",
  );
  for (const { name } of tables) {
    await sql(`OPTIMIZE TABLE \`${String(name).replace(/`/g, "\\`")}\` FINAL`);
  }
  const sizes = await sql(
    "SELECT table, toString(sum(rows)) AS rows, toString(sum(data_compressed_bytes)) AS bytes FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table",
  );
  const out: StorageReport = {
    bytes_per_reading: {},
    tables: {},
    raw_columns: {},
    all_tables_per_reading: 0,
  };
  let total = 0;
  for (const s of sizes) {
    const [rows, bytes] = [Number(s.rows), Number(s.bytes)];
    out.tables[String(s.table)] = { rows, bytes };
    out.bytes_per_reading[String(s.table)] = per(bytes, rows);
    total += bytes;
  }
  const readings = out.tables[raw]?.rows ?? 0;
  out.all_tables_per_reading = per(total, readings);
  const columns = await sql(
    `SELECT column, toString(sum(column_data_compressed_bytes)) AS bytes FROM system.parts_columns WHERE database = currentDatabase() AND table = '${raw}' AND active GROUP BY column ORDER BY sum(column_data_compressed_bytes) DESC`,
  );
  for (const c of columns) out.raw_columns[String(c.column)] = per(Number(c.bytes), readings);
  return out;
}
