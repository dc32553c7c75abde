/**
 * The ClickHouse engine itself, embedded through chDB's native binding. Loaded only by the
 * embedded store's own process: the package is large and Linux/glibc-only, so nothing else in
 * the product may import this file.
 *
 * One connection per process (chDB keeps global state per data path). Calls are serialized:
 * the HTTP front end switches the current database with USE, which is connection state.
 */
import { SqlError } from "./_sql.ts";

interface NativeResult {
  bytes: Uint8Array<ArrayBuffer>;
  elapsed: number;
  rowsRead: number;
  bytesRead: number;
}

interface Binding {
  CreateConnection(path: string): unknown;
  CloseConnection(conn: unknown): void;
  QueryAsyncConnection(
    conn: unknown,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<NativeResult>;
  /** A query whose result is fetched chunk by chunk; it can be cancelled between chunks. */
  StreamQuery(conn: unknown, sql: string, format: string, params?: Record<string, string>): unknown;
  StreamFetch(handle: unknown): Promise<{ done: boolean; bytes: Uint8Array; numRows: number }>;
  StreamCancel(handle: unknown): void;
  EngineVersion(): string;
}

export interface QueryResult {
  bytes: Uint8Array<ArrayBuffer>;
  rowsRead: number;
  bytesRead: number;
  rowsWritten: number;
  elapsedMs: number;
  /** Rows in the result, where the engine counted them (streamed results). */
  resultRows?: number;
}

/** What the HTTP front end needs from an engine. */
export interface ChEngine {
  version: string;
  /**
   * Runs `fn` alone on the connection, with `database` current. A request whose `signal`
   * aborts while it waits for its turn is dropped without running.
   */
  exclusive<T>(
    database: string | undefined,
    fn: (session: ChSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
  close(): void;
}

export interface QueryOptions {
  /** Cancels the query between result chunks (a deadline, or the client gone). */
  signal?: AbortSignal;
  /** The largest result the store buffers for one request, in bytes. */
  maxBytes?: number;
}

export interface ChSession {
  /**
   * A statement with a result (SELECT, WITH): streamed from the engine, so it can be
   * cancelled, and so a failure part-way leaves nothing behind for the next statement.
   */
  select(
    sql: string,
    format: string,
    params: Record<string, string>,
    options?: QueryOptions,
  ): Promise<QueryResult>;
  /**
   * Runs `fn` with `settings` set on the connection, and puts every setting back after it,
   * however it ends (for statements whose own SETTINGS clause means something else: CREATE).
   */
  withSettings<T>(settings: [string, string][], fn: () => Promise<T>): Promise<T>;
  /** Any other statement (DDL, SHOW, INSERT … SELECT, …), run at once. */
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
  /**
   * The engine's count of rows inserted so far (ClickHouse's InsertedRows event): rows that
   * entered a table's insert chain, a materialized view's included, a deduplicated block's too.
   */
  insertedRows(): Promise<number>;
}

/** chDB's answer as the HTTP front end reports it. */
function resultOf(r: NativeResult): QueryResult {
  return {
    bytes: r.bytes,
    rowsRead: r.rowsRead,
    bytesRead: r.bytesRead,
    rowsWritten: 0,
    elapsedMs: r.elapsed * 1e3,
  };
}

const decoder = new TextDecoder();

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
  const run = (sql: string, format = "TabSeparated", params?: Record<string, string>) =>
    chdb.QueryAsyncConnection(conn, sql, format, params);
  // chDB's own defaults that differ from a server's (allow_introspection_functions = 1):
  // what every request starts from, and what recover() puts back.
  await run("SET allow_introspection_functions = 0");
  const baseline = await changedSettings();
  let current = "default";
  let queue: Promise<unknown> = Promise.resolve();

  async function changedSettings(): Promise<Map<string, string>> {
    const text = decoder.decode(
      (await run("SELECT name, value FROM system.settings WHERE changed", "TabSeparatedRaw"))
        .bytes,
    );
    return new Map(
      text.split("\n").filter(Boolean).map((l) => l.split("\t") as [string, string]),
    );
  }

  /**
   * After a failed statement: a statement run at once that failed part-way leaves its output
   * for the next one, and a statement may have left settings on the connection. Both are
   * cleared here, so nothing of one request reaches another.
   */
  async function recover() {
    for (let i = 0; i < 3; i++) {
      const probe = await run("SELECT 1").catch(() => undefined);
      if (probe && decoder.decode(probe.bytes) === "1\n") break;
    }
    await resetSettings();
  }

  /** Puts the connection's settings back to what every request starts from. */
  async function resetSettings() {
    const now = await changedSettings();
    for (const [name, value] of now) {
      if (baseline.get(name) === value) continue;
      await run(
        baseline.has(name)
          ? `SET ${name} = ${literal(baseline.get(name)!)}`
          : `SET ${name} = DEFAULT`,
      );
    }
    for (const [name, value] of baseline) {
      if (!now.has(name)) await run(`SET ${name} = ${literal(value)}`);
    }
  }

  const session: ChSession = {
    async withSettings(settings, fn) {
      try {
        for (const [name, value] of settings) {
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
            throw new SqlError(115, `Unknown setting ${name}`, "UNKNOWN_SETTING");
          }
          await run(`SET ${name} = ${literal(value)}`);
        }
        return await fn();
      } finally {
        await resetSettings();
      }
    },
    async select(sql, format, params, options = {}) {
      const started = performance.now();
      const handle = Object.keys(params).length > 0
        ? chdb.StreamQuery(conn, sql, format, params)
        : chdb.StreamQuery(conn, sql, format);
      const chunks: Uint8Array[] = [];
      let size = 0;
      let rows = 0;
      try {
        while (true) {
          if (options.signal?.aborted) throw options.signal.reason;
          const chunk = await chdb.StreamFetch(handle);
          if (chunk.done) break;
          size += chunk.bytes.length;
          rows += chunk.numRows;
          if (options.maxBytes !== undefined && size > options.maxBytes) {
            throw new SqlError(
              396,
              `Limit for result exceeded: the embedded store buffers at most ${options.maxBytes} bytes of one result`,
              "TOO_MANY_ROWS_OR_BYTES",
            );
          }
          chunks.push(chunk.bytes);
        }
      } finally {
        try {
          chdb.StreamCancel(handle);
        } catch { /* finished: nothing to cancel */ }
      }
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) bytes.set(c, at), at += c.length;
      return {
        bytes,
        rowsRead: 0,
        bytesRead: 0,
        rowsWritten: 0,
        resultRows: rows,
        elapsedMs: performance.now() - started,
      };
    },
    async query(sql, format, params) {
      return resultOf(await run(sql, format, params));
    },
    async insertedRows() {
      const text = decoder.decode(
        (await run("SELECT value FROM system.events WHERE event = 'InsertedRows'")).bytes,
      );
      return Number(text.trim() || "0");
    },
    async insert(sql, data, params) {
      await Deno.writeFile(spool, data);
      try {
        return resultOf(await run(sql(quotedSpool), "TabSeparated", params));
      } finally {
        await Deno.truncate(spool, 0).catch(() => {});
      }
    },
  };

  return {
    version: chdb.EngineVersion(),
    exclusive(database, fn, signal) {
      const turn = queue.then(async () => {
        if (signal?.aborted) throw signal.reason;
        const wanted = database || "default";
        if (wanted !== current) {
          await run(`USE \`${wanted.replace(/[`\\]/g, "\\$&")}\``);
          current = wanted;
        }
        try {
          return await fn(session);
        } catch (e) {
          await recover().catch(() => {});
          throw e;
        }
      });
      queue = turn.catch(() => {});
      if (!signal) return turn;
      // A request given up while it waits answers at once; its turn, when it comes, is skipped.
      return new Promise((resolve, reject) => {
        const abort = () => reject(signal.reason);
        if (signal.aborted) return abort();
        signal.addEventListener("abort", abort, { once: true });
        turn.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
      });
    },
    close: () => chdb.CloseConnection(conn),
  };
}

/** A setting's value as a SQL literal. */
function literal(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value)
    ? value
    : `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
