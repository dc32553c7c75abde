/**
 * The ClickHouse engine itself, embedded through chDB's native binding. Loaded only by the
 * embedded store's own process: the package is large and Linux/glibc-only, so nothing else in
 * the product may import this file.
 *
 * One connection per process (chDB keeps global state per data path). Calls are serialized:
 * the HTTP front end switches the current database with USE, which is connection state.
 */

interface Binding {
  CreateConnection(path: string): unknown;
  CloseConnection(conn: unknown): void;
  QueryAsyncConnection(
    conn: unknown,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<
    { bytes: Uint8Array<ArrayBuffer>; elapsed: number; rowsRead: number; bytesRead: number }
  >;
  EngineVersion(): string;
}

export interface QueryResult {
  bytes: Uint8Array<ArrayBuffer>;
  rowsRead: number;
  bytesRead: number;
  rowsWritten: number;
  elapsedMs: number;
}

/** What the HTTP front end needs from an engine. */
export interface ChEngine {
  version: string;
  /** Runs `fn` alone on the connection, with `database` current. */
  exclusive<T>(database: string | undefined, fn: (session: ChSession) => Promise<T>): Promise<T>;
  close(): void;
}

export interface ChSession {
  query(sql: string, format: string, params: Record<string, string>): Promise<QueryResult>;
  /**
   * Inserts `data` with the statement `sql(file)` builds around a file holding it
   * (`INSERT … FROM INFILE file …` or `… FROM file(file, …)`). chDB's raw-insert call cuts
   * binary data short (it stops at newline bytes), so data goes through a file, byte for byte.
   */
  insert(
    sql: (file: string) => string,
    data: Uint8Array,
    params: Record<string, string>,
  ): Promise<QueryResult>;
}

/** chDB's answer as the HTTP front end reports it. */
function resultOf(
  r: { bytes: Uint8Array<ArrayBuffer>; elapsed: number; rowsRead: number; bytesRead: number },
): QueryResult {
  return {
    bytes: r.bytes,
    rowsRead: r.rowsRead,
    bytesRead: r.bytesRead,
    rowsWritten: 0,
    elapsedMs: r.elapsed * 1e3,
  };
}

export async function openChdb(path: string): Promise<ChEngine> {
  const mod = await import("@chdb/lib-linux-x64-gnu");
  const chdb = (mod.default ?? mod) as Binding;
  await Deno.mkdir(path, { recursive: true });
  // One spool file, overwritten by each insert (calls are serialized) and emptied after it: a
  // file created and deleted per insert costs an inode allocation, which ext4 makes slow where
  // many inodes were freed recently, as the store's own parts do (bench:sink: ~4 % less CPU).
  const spoolDir = await Deno.realPath(path) + "/.insert_spool";
  await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(spoolDir, { recursive: true });
  const spool = `${spoolDir}/insert.data`;
  const quotedSpool = `'${spool.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const conn = chdb.CreateConnection(path);
  let current = "default";
  let queue: Promise<unknown> = Promise.resolve();

  const session: ChSession = {
    async query(sql, format, params) {
      return resultOf(await chdb.QueryAsyncConnection(conn, sql, format, params));
    },
    async insert(sql, data, params) {
      await Deno.writeFile(spool, data);
      try {
        return resultOf(
          await chdb.QueryAsyncConnection(conn, sql(quotedSpool), "TabSeparated", params),
        );
      } finally {
        await Deno.truncate(spool, 0).catch(() => {});
      }
    },
  };

  return {
    version: chdb.EngineVersion(),
    exclusive(database, fn) {
      const run = queue.then(async () => {
        const wanted = database || "default";
        if (wanted !== current) {
          await chdb.QueryAsyncConnection(
            conn,
            `USE \`${wanted.replace(/[`\\]/g, "\\$&")}\``,
            "TabSeparated",
          );
          current = wanted;
        }
        return await fn(session);
      });
      queue = run.catch(() => {});
      return run;
    },
    close: () => chdb.CloseConnection(conn),
  };
}
