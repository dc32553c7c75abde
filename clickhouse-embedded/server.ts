/**
 * The part of ClickHouse's HTTP interface that @clickhouse/client, curl users and Grafana's
 * ClickHouse data source (HTTP mode) use, in front of an embedded engine:
 *
 * - `GET /ping`, `GET /` (→ "Ok."); queries in the body or the `query` URL parameter; for an
 *   INSERT with a `query` parameter, the body is its data;
 * - `param_<name>` typed query parameters (passed to the engine as ClickHouse's escaped text);
 * - `database`, `default_format`, `query_id`; every other URL parameter is a setting, applied
 *   to that query alone as a SETTINGS clause (never as connection state);
 * - the format named by `FORMAT` or `default_format` (default TabSeparated), any format the
 *   engine has, passed through byte for byte;
 * - gzip request bodies, gzip responses when `enable_http_compression=1` and the client
 *   accepts it; basic auth / X-ClickHouse-User+Key / user+password parameters when a password
 *   is configured;
 * - errors as `Code: N. DB::Exception: …` with an HTTP status and `X-ClickHouse-Exception-Code`.
 *
 * Without sessions, `SET` and `USE` change nothing, as on a real server; several statements
 * in one request are refused, as on a real server.
 */
import type { ChEngine, ChSession, QueryResult } from "./_chdb.ts";
import { inspect, settingsClause, SqlError } from "./_sql.ts";
import type { StatementInfo } from "./_sql.ts";

export interface ServerOptions {
  user?: string;
  /** When set, every request must authenticate as `user` with it. */
  password?: string;
}

/** URL parameters that are not settings: read here, or reserved by ClickHouse's HTTP handler. */
const META = new Set([
  "query",
  "database",
  "default_format",
  "query_id",
  "user",
  "password",
  "enable_http_compression",
  // Reserved by ClickHouse's HTTP handler and sent by clients by default; nothing to do here:
  // every statement stands alone (so a session changes nothing), results are buffered whole
  // (what wait_end_of_query asks), and there are no quotas or roles.
  "session_id",
  "session_timeout",
  "session_check",
  "close_session",
  "buffer_size",
  "wait_end_of_query",
  "quota_key",
  "role",
  "client_protocol_version",
  "stacktrace",
  "compress",
  "decompress",
]);
/** External data (`<name>_structure`, `_format`, `_types`) comes with a multipart body. */
const EXTERNAL = /^(.+)_(structure|format|types)$/;
const READ_ONLY = new Set([
  "SELECT",
  "WITH",
  "SHOW",
  "DESCRIBE",
  "DESC",
  "EXISTS",
  "EXPLAIN",
  "CHECK",
]);

const CONTENT_TYPES: Record<string, string> = {
  TabSeparated: "text/tab-separated-values; charset=UTF-8",
  TSV: "text/tab-separated-values; charset=UTF-8",
  CSV: "text/csv; charset=UTF-8; header=absent",
  CSVWithNames: "text/csv; charset=UTF-8; header=present",
};

function contentType(format: string): string {
  if (CONTENT_TYPES[format]) return CONTENT_TYPES[format];
  if (/^JSON|^NDJSON/i.test(format)) return "application/json; charset=UTF-8";
  if (/^(TabSeparated|TSV|CSV|Pretty|Values|Vertical|Markdown|Raw|LineAsString)/i.test(format)) {
    return "text/plain; charset=UTF-8";
  }
  return "application/octet-stream";
}

/** ClickHouse's mapping of a few error codes to HTTP statuses; everything else is 500. */
function statusOf(code: number): number {
  if ([62, 27, 26, 6, 38, 41, 72, 36, 115, 457, 53, 70, 117].includes(code)) return 400; // syntax, parse, bad arguments
  if ([60, 81, 46, 47].includes(code)) return 404; // unknown table, database, function, identifier
  if ([516, 192, 193, 194].includes(code)) return 403; // authentication
  if ([164].includes(code)) return 403; // readonly
  return 500;
}

export function createHandler(engine: ChEngine, options: ServerOptions = {}) {
  const user = options.user ?? "default";

  return async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const queryId = url.searchParams.get("query_id") ?? crypto.randomUUID();
    const headers = new Headers({
      "X-ClickHouse-Query-Id": queryId,
      "X-ClickHouse-Server-Display-Name": "embedded",
      "X-ClickHouse-Timezone": "UTC",
    });
    try {
      if (
        url.pathname === "/ping" || url.pathname === "/replicas_status" ||
        (url.pathname === "/" && req.method === "GET" && !url.searchParams.has("query"))
      ) {
        return new Response("Ok.\n", { headers: { "Content-Type": "text/plain; charset=UTF-8" } });
      }
      if (url.pathname !== "/") {
        throw new SqlError(0, `There is no handle ${url.pathname}`, "UNKNOWN_HANDLER");
      }
      if (req.method !== "GET" && req.method !== "POST") {
        throw new SqlError(0, `HTTP method ${req.method} is not allowed`, "BAD_REQUEST");
      }
      authenticate(req, url, user, options.password);

      const { sql, data } = statementOf(url, await readBody(req));

      const info = inspect(sql);
      if (info.keyword === "") throw new SqlError(62, "Empty query", "SYNTAX_ERROR");
      if (info.multiple) throw new SqlError(62, "Multi-statements are not allowed", "SYNTAX_ERROR");
      if (req.method === "GET" && !READ_ONLY.has(info.keyword)) {
        throw new SqlError(
          164,
          "Cannot execute query in readonly mode: use POST for queries that change data",
          "READONLY",
        );
      }

      const { params, settings } = parametersOf(url);
      const format = info.format ?? url.searchParams.get("default_format") ??
        req.headers.get("X-ClickHouse-Format") ?? "TabSeparated";
      const database = url.searchParams.get("database") ??
        req.headers.get("X-ClickHouse-Database") ?? undefined;

      let result: QueryResult | undefined;
      if (info.keyword === "SET" || info.keyword === "USE") {
        result = undefined; // no session: nothing to change
      } else if (info.keyword === "INSERT" && data) {
        const build = insertFromFile(sql, info, settings);
        result = await engine.exclusive(database, (s) => s.insert(build, data!, params));
      } else if (info.keyword === "CREATE" && settings.length > 0) {
        // A trailing SETTINGS clause of CREATE TABLE sets the table's settings: URL settings
        // apply to the statement instead, set around it on the connection and put back.
        result = await engine.exclusive(
          database,
          (s) => withSessionSettings(s, settings, () => s.query(info.text, format, params)),
        );
      } else {
        const text = withSettings(info.text, settings, info);
        result = await engine.exclusive(database, (s) => s.query(text, format, params));
      }

      headers.set("X-ClickHouse-Format", format);
      headers.set("Content-Type", contentType(format));
      headers.set("X-ClickHouse-Summary", summaryOf(result, format));
      return respond(result?.bytes ?? new Uint8Array(), req, url, headers);
    } catch (e) {
      return errorResponse(e, headers);
    }
  };
}

/** The statement of a request: in `query`, in the body, or in `query` with the body as its data. */
function statementOf(url: URL, body: Uint8Array<ArrayBuffer>) {
  const fromParam = url.searchParams.get("query");
  if (fromParam !== null && body.length > 0 && inspect(fromParam).keyword === "INSERT") {
    return { sql: fromParam, data: body };
  }
  if (fromParam !== null && body.length > 0) {
    return { sql: `${fromParam}\n${new TextDecoder().decode(body)}`, data: undefined };
  }
  return { sql: fromParam ?? new TextDecoder().decode(body), data: undefined };
}

/** Rows in a text result: lines, less the header lines of *WithNames formats; JSON's own count. */
function resultRows(bytes: Uint8Array, format: string): number {
  if (/^JSON(Compact)?(Strings)?$/i.test(format)) {
    const m = /"rows":\s*(\d+)/.exec(new TextDecoder().decode(bytes.subarray(-4096)));
    return m ? Number(m[1]) : 0;
  }
  if (
    !/^(TabSeparated|TSV|CSV|JSONEachRow|JSONCompactEachRow|JSONStringsEachRow|JSONLines|NDJSON|LineAsString)/i
      .test(format)
  ) {
    return 0; // binary formats: their row counts are not read here
  }
  let lines = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  const headers = /WithNamesAndTypes$/i.test(format) ? 2 : /WithNames$/i.test(format) ? 1 : 0;
  return Math.max(0, lines - headers);
}

/** The X-ClickHouse-Summary header of a result. */
function summaryOf(result: QueryResult | undefined, format: string): string {
  return JSON.stringify({
    read_rows: String(result?.rowsRead ?? 0),
    read_bytes: String(result?.bytesRead ?? 0),
    written_rows: String(result?.rowsWritten ?? 0),
    written_bytes: "0",
    total_rows_to_read: String(result?.rowsRead ?? 0),
    result_rows: String(result ? resultRows(result.bytes, format) : 0),
    result_bytes: String(result?.bytes.length ?? 0),
    elapsed_ns: String(Math.round((result?.elapsedMs ?? 0) * 1e6)),
  });
}

/** An error as ClickHouse answers it: `Code: N. DB::Exception: …`, the code in a header. */
function errorResponse(e: unknown, headers: Headers): Response {
  const message = e instanceof Error ? e.message : String(e);
  const code = Number(/^Code: (\d+)\./.exec(message)?.[1] ?? 1000);
  headers.set("X-ClickHouse-Exception-Code", String(code));
  headers.set("Content-Type", "text/plain; charset=UTF-8");
  return new Response(
    `${message.startsWith("Code:") ? message : `Code: ${code}. DB::Exception: ${message}`}\n`,
    { status: statusOf(code), headers },
  );
}

/**
 * Adds per-query settings to a statement: at the end (ClickHouse accepts them after FORMAT
 * too), or, for an INSERT with its rows inline, before its VALUES or FORMAT clause, where the
 * data starts.
 */
function withSettings(sql: string, settings: [string, string][], info?: StatementInfo): string {
  const clause = settingsClause(settings);
  if (!clause) return sql;
  const dataAt = info?.keyword === "INSERT"
    ? Math.min(info.valuesAt ?? Infinity, info.formatAt ?? Infinity)
    : Infinity;
  if (dataAt === Infinity) return `${sql}\n${clause}`;
  if (info!.settingsAt !== undefined && info!.settingsAt < dataAt) {
    const at = info!.settingsAt + "SETTINGS".length;
    return `${sql.slice(0, at)} ${clause.slice("SETTINGS ".length)},${sql.slice(at)}`;
  }
  return `${sql.slice(0, dataAt)}${clause} ${sql.slice(dataAt)}`;
}

/** Query parameters and per-query settings of a request's URL; refuses what cannot be honoured. */
function parametersOf(url: URL) {
  const params: Record<string, string> = {};
  const settings: [string, string][] = [];
  for (const [key, value] of url.searchParams) {
    if (key.startsWith("param_")) params[key.slice(6)] = value;
    else if ((key === "compress" || key === "decompress") && value !== "0") {
      throw new SqlError(
        48,
        `${key}=1 asks for ClickHouse's own block compression, which the embedded store does not speak; use HTTP compression (enable_http_compression=1, Content-Encoding: gzip)`,
        "NOT_IMPLEMENTED",
      );
    } else if (META.has(key)) continue;
    else if (EXTERNAL.test(key) && url.searchParams.has(`${EXTERNAL.exec(key)![1]}_structure`)) {
      throw new SqlError(
        48,
        `external data (${key}) is not supported by the embedded store`,
        "NOT_IMPLEMENTED",
      );
    } else settings.push([key, value]);
  }
  return { params, settings };
}

/** Runs `fn` with `settings` set on the session, then sets them back as they were. */
async function withSessionSettings<T>(
  s: ChSession,
  settings: [string, string][],
  fn: () => Promise<T>,
): Promise<T> {
  const names = settings.map(([n]) => `'${n.replace(/'/g, "")}'`).join(", ");
  const before = new TextDecoder().decode(
    (await s.query(`SELECT name, value FROM system.settings WHERE name IN (${names})`, "TSV", {}))
      .bytes,
  ).trim().split("\n").filter(Boolean).map((l) => l.split("\t") as [string, string]);
  await s.query(`SET ${settingsClause(settings).slice("SETTINGS ".length)}`, "TSV", {});
  try {
    return await fn();
  } finally {
    if (before.length > 0) {
      await s.query(`SET ${settingsClause(before).slice("SETTINGS ".length)}`, "TSV", {})
        .catch(() => {});
    }
  }
}

/**
 * An INSERT whose data is in the body, rewritten to read that data from a file:
 * - `INSERT INTO t SELECT … FROM input('structure') FORMAT f` → `… FROM file(<file>, 'f', 'structure')`;
 * - `INSERT INTO t (cols) [SETTINGS …] FORMAT f` → `INSERT INTO t (cols) FROM INFILE <file> SETTINGS … FORMAT f`;
 * - a trailing VALUES means FORMAT Values.
 */
function insertFromFile(
  sql: string,
  info: StatementInfo,
  settings: [string, string][],
): (file: string) => string {
  let text = info.text;
  let format = info.format;
  let formatAt = info.formatAt;
  if (info.inputCall) {
    if (format === undefined || formatAt === undefined) {
      throw new SqlError(62, "An INSERT … FROM input() needs a FORMAT clause", "SYNTAX_ERROR");
    }
    const [start, argsStart, end] = info.inputCall;
    const head = sql.slice(0, start);
    const args = sql.slice(argsStart, end - 1);
    const tail = sql.slice(end, formatAt).trimEnd();
    return (file) => withSettings(`${head}file(${file}, '${format}', ${args})${tail}`, settings);
  }
  if (format === undefined || formatAt === undefined) {
    const values = /\sVALUES\s*$/i.exec(text);
    if (!values) {
      throw new SqlError(
        62,
        "An INSERT with data in the body needs a FORMAT clause",
        "SYNTAX_ERROR",
      );
    }
    text = text.slice(0, values.index);
    format = "Values";
    formatAt = text.length;
  }
  const head = text.slice(0, info.settingsAt ?? formatAt).trimEnd();
  const own = info.settingsAt !== undefined
    ? text.slice(info.settingsAt + "SETTINGS".length, formatAt).trim()
    : "";
  const extra = settingsClause(settings).replace(/^SETTINGS /, "");
  const all = [own, extra].filter(Boolean).join(", ");
  return (file) => `${head} FROM INFILE ${file}${all ? ` SETTINGS ${all}` : ""} FORMAT ${format}`;
}

function authenticate(req: Request, url: URL, user: string, password: string | undefined) {
  if (password === undefined || password === "") return;
  let given: [string | null, string | null] = [
    req.headers.get("X-ClickHouse-User") ?? url.searchParams.get("user"),
    req.headers.get("X-ClickHouse-Key") ?? url.searchParams.get("password"),
  ];
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.get("Authorization") ?? "");
  if (basic) {
    const decoded = atob(basic[1]!);
    const colon = decoded.indexOf(":");
    given = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }
  if ((given[0] ?? "default") !== user || given[1] !== password) {
    throw new SqlError(
      516,
      `${
        given[0] ?? "default"
      }: Authentication failed: password is incorrect, or there is no user with such name`,
      "AUTHENTICATION_FAILED",
    );
  }
}

async function readBody(req: Request): Promise<Uint8Array<ArrayBuffer>> {
  if (!req.body) return new Uint8Array();
  const encoding = req.headers.get("Content-Encoding")?.toLowerCase();
  let stream: ReadableStream = req.body;
  if (encoding === "gzip" || encoding === "deflate") {
    stream = stream.pipeThrough(new DecompressionStream(encoding));
  } else if (encoding && encoding !== "identity") {
    throw new SqlError(0, `Unsupported Content-Encoding ${encoding}`, "BAD_REQUEST");
  }
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function respond(
  bytes: Uint8Array<ArrayBuffer>,
  req: Request,
  url: URL,
  headers: Headers,
): Response {
  const wantsGzip = url.searchParams.get("enable_http_compression") === "1" &&
    /\bgzip\b/i.test(req.headers.get("Accept-Encoding") ?? "");
  if (!wantsGzip) return new Response(bytes, { headers });
  headers.set("Content-Encoding", "gzip");
  const gz = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(gz, { headers });
}
