/**
 * The sink's one way to talk to ClickHouse: calls through @clickhouse/client whose errors are
 * classified once (retriable or not, and why), inserts of raw bytes with a content-hash
 * deduplication token. No retries here: the engine retries, with its one budget.
 */
import type { ClickHouseClient, ClickHouseSettings } from "@clickhouse/client";
import { Readable } from "node:stream";
import { PluginError } from "../../engine/mod.ts";
import type { ErrorReason, QueryParams } from "../../engine/mod.ts";
import { q } from "./ddl.ts";
import { checkWritten, versionOf } from "./_is_clickhouse.ts";
import type { Target } from "./ddl.ts";

export const PLUGIN = "sink-clickhouse";

/** ClickHouse error codes worth retrying, and what they mean. */
const RETRIABLE_CODES = new Map<number, ErrorReason>([
  [3, "connection"], // UNEXPECTED_END_OF_FILE
  [159, "timeout"], // TIMEOUT_EXCEEDED
  [202, "backpressure"], // TOO_MANY_SIMULTANEOUS_QUERIES
  [209, "timeout"], // SOCKET_TIMEOUT
  [210, "connection"], // NETWORK_ERROR
  [241, "memory"], // MEMORY_LIMIT_EXCEEDED
  [252, "backpressure"], // TOO_MANY_PARTS
  [319, "connection"], // UNKNOWN_STATUS_OF_INSERT
  [425, "other"], // SYSTEM_ERROR
  [999, "connection"], // KEEPER_EXCEPTION
  [1000, "connection"], // POCO_EXCEPTION
]);
/**
 * Codes not worth retrying whose reason is not "invalid" (the statement itself): the credentials
 * or grants are wrong, or the query passed a limit it was given.
 */
const REASON_CODES = new Map<number, ErrorReason>([
  [192, "auth"], // UNKNOWN_USER
  [193, "auth"], // WRONG_PASSWORD
  [516, "auth"], // AUTHENTICATION_FAILED
  [497, "permission"], // ACCESS_DENIED
  [164, "permission"], // READONLY: a read-only user may not change this setting
  [158, "too_big"], // TOO_MANY_ROWS (max_result_rows)
  [307, "too_big"], // TOO_MANY_BYTES
  [396, "too_big"], // TOO_MANY_ROWS_OR_BYTES (max_result_rows / max_result_bytes)
  [160, "timeout"], // TOO_SLOW
  [394, "timeout"], // QUERY_WAS_CANCELLED (the client closed the request, or KILL QUERY)
]);

/** A connection to ClickHouse: the data client (pipeline database) and a root client for DDL. */
export interface Conn {
  client: ClickHouseClient;
  root: ClickHouseClient;
  target: Target;
  /** host:port, for messages (never credentials). */
  address: string;
  /** The quoted database name. */
  db: string;
  /** A client whose default database is `database` (for statements with plain table names). */
  clientFor(database: string): ClickHouseClient;
  /** What to check when a call fails for a reason the user can fix (_hints.ts). */
  fix?: (e: unknown) => string | undefined;
}

export function connOf(
  clientFor: (database?: string) => ClickHouseClient,
  target: Target,
  address: string,
  fix?: (e: unknown) => string | undefined,
): Conn {
  return {
    client: clientFor(target.database),
    root: clientFor(),
    target,
    address,
    db: q(target.database),
    clientFor,
    fix,
  };
}

/** Error text of anything thrown by the client. */
export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/** Turns a client error into a PluginError that says whether retrying can help, and why. */
export function classify(
  what: string,
  e: unknown,
  address: string,
  fix?: (e: unknown) => string | undefined,
): PluginError {
  if (e instanceof PluginError) return e;
  const code = Number((e as { code?: unknown }).code);
  const fromServer =
    Number.isInteger(code) && code > 0 && /DB::Exception|Code:/.test(reasonOf(e)) ||
    (e as { type?: unknown }).type !== undefined;
  const retriable = fromServer ? RETRIABLE_CODES.has(code) : !(e instanceof TypeError);
  const reason = fromServer
    ? RETRIABLE_CODES.get(code) ?? REASON_CODES.get(code) ?? "invalid"
    : /timeout/i.test(reasonOf(e))
    ? "timeout"
    : "connection";
  const hint = fix?.(e);
  return new PluginError(
    PLUGIN,
    `${what} at ${address} failed: ${reasonOf(e)}${hint ? `: ${hint}` : ""}`,
    {
      cause: e,
      retriable,
      unavailable: retriable && !fromServer,
      reason,
    },
  );
}

/** Runs `fn`, classifying what it throws. */
export async function attempt<T>(conn: Conn, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw classify(what, e, conn.address, conn.fix);
  }
}

/** A statement without result rows, on the root client. */
export function command(
  conn: Conn,
  what: string,
  sql: string,
  params: QueryParams = {},
  settings: ClickHouseSettings = {},
) {
  return attempt(
    conn,
    what,
    () => conn.root.command({ query: sql, query_params: params, clickhouse_settings: settings }),
  );
}

/** The server's version, once its answer is found to be ClickHouse's (_is_clickhouse.ts). */
export async function serverVersion(conn: Conn): Promise<string> {
  const what = "asking for the server's version";
  const { answer, body } = await attempt(conn, what, async () => {
    const answer = await conn.root.query({ query: "SELECT version() AS version", format: "JSON" });
    return { answer, body: await answer.text() };
  });
  return versionOf(conn.address, answer, body);
}

/** An insert's rows are counted by the query that sends them, not by a later flush. */
const SYNCHRONOUS: ClickHouseSettings = { async_insert: 0 };

/**
 * For inserts into the Replacing engines the sink writes: they deduplicate at merge time and
 * every read of ours says FINAL, so the same pass over each inserted block at insert time only
 * costs (about half of an insert's time on the embedded store).
 */
export const NO_INSERT_MERGE: ClickHouseSettings = { optimize_on_insert: 0 };

/** The rows of a query as objects. */
export function rows<T>(
  conn: Conn,
  what: string,
  sql: string,
  params: QueryParams = {},
  c: ClickHouseClient = conn.root,
): Promise<T[]> {
  return attempt(conn, what, async () => {
    const result = await c.query({ query: sql, query_params: params, format: "JSONEachRow" });
    return await result.json<T>();
  });
}

/** Raw bytes to insert: the statement, its `rows` rows in the statement's format, and more. */
export interface RawInsert {
  /** What is inserted, for messages. */
  what: string;
  sql: string;
  body: Uint8Array<ArrayBuffer>;
  /** The rows in `body`: ClickHouse must say it wrote at least these (_is_clickhouse.ts). */
  rows: number;
  params?: QueryParams;
  settings?: ClickHouseSettings;
}

/**
 * Inserts raw bytes exactly once: the deduplication token names the content (the rows and the
 * batch-wide values sent as parameters), so a retried insert is stored once, in the table and
 * in the materialized views hanging off it. Stored means ClickHouse said so.
 */
export async function insertBytes(conn: Conn, insert: RawInsert) {
  const { what, sql, body, params = {} } = insert;
  const token = await tokenOf(body, params);
  const answer = await attempt(conn, what, async () => {
    const result = await conn.root.exec({
      query: sql,
      query_params: params,
      values: Readable.from([body], { objectMode: false }),
      clickhouse_settings: {
        insert_deduplicate: 1,
        insert_deduplication_token: token,
        deduplicate_blocks_in_dependent_materialized_views: 1,
        ...NO_INSERT_MERGE,
        ...insert.settings,
        ...SYNCHRONOUS,
      },
    });
    for await (const _ of result.stream) { /* drain: the connection goes back to the pool */ }
    return result;
  });
  checkWritten(conn.address, what, answer, insert.rows);
}

/** SHA-256 of the body's SHA-256 and the parameters: the body is hashed where it is, not copied. */
async function tokenOf(body: Uint8Array<ArrayBuffer>, params: QueryParams): Promise<string> {
  const constants = new TextEncoder().encode(JSON.stringify(params));
  const hashed = new Uint8Array(32 + constants.length);
  hashed.set(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
  hashed.set(constants, 32);
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", hashed)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}
