/**
 * The part of ClickHouse's HTTP interface that @clickhouse/client, curl users and Grafana's
 * ClickHouse data source (HTTP mode) use, in front of an embedded engine:
 *
 * - `GET /ping`, `GET /` (→ "Ok."); queries in the body or the `query` URL parameter; for an
 *   INSERT with a `query` parameter, the body is its data;
 * - authentication always (_auth.ts): the writer and the read-only `reader`; GET requests and
 *   `readonly=1|2` are read-only, as on a server; what a client may run is _policy.ts;
 * - `param_<name>` typed query parameters (passed to the engine as ClickHouse's escaped text);
 * - `database`, `default_format`, `query_id`; every other URL parameter is a setting, applied
 *   to that query alone as a SETTINGS clause (never as connection state);
 * - sessions (`session_id`, `session_timeout`, `session_check`, `close_session`): a session
 *   keeps its `SET`s and `USE` until it times out (_sessions.ts); temporary tables are refused;
 * - one request, one answer: a deadline (`max_execution_time`, capped by the store) that
 *   covers the wait for the engine and cancels a running SELECT between result chunks, as does
 *   a client that goes away; memory and result caps; nothing of a failed request left behind;
 * - the format named by `FORMAT` or `default_format` (default TabSeparated), any format the
 *   engine has, passed through byte for byte;
 * - gzip request bodies, gzip responses when `enable_http_compression=1` and the client
 *   accepts it;
 * - errors as `Code: N. DB::Exception: …` with an HTTP status and `X-ClickHouse-Exception-Code`.
 *
 * Several statements in one request are refused, as on a real server.
 */
import type { ChEngine, QueryResult } from "./_chdb.ts";
import { authenticate } from "./_auth.ts";
import type { Credentials } from "./credentials.ts";
import { checkStatement } from "./_policy.ts";
import type { Caps, Role } from "./_policy.ts";
import { createSessions } from "./_sessions.ts";
import { inspect, settingsClause, SqlError } from "./_sql.ts";
import type { StatementInfo } from "./_sql.ts";

export interface ServerOptions {
  credentials: Credentials;
  /** Limits no request can lift; defaults: 4 GiB of memory, 600 s. */
  caps?: Partial<Caps>;
  /** The largest result buffered for one request (default 1 GiB). */
  maxResultBytes?: number;
  /** The engine's table functions (lower case), so that unknown ones are refused too. */
  tableFunctions?: ReadonlySet<string>;
}

export const DEFAULT_CAPS: Caps = { max_memory_usage: 4 * 2 ** 30, max_execution_time: 600 };

/** URL parameters that are not settings: read here, or reserved by ClickHouse's HTTP handler. */
const META = new Set([
  "query",
  "database",
  "default_format",
  "query_id",
  "user",
  "password",
  "enable_http_compression",
  "readonly",
  "session_id",
  "session_timeout",
  "session_check",
  "close_session",
  // Reserved by ClickHouse's HTTP handler and sent by clients by default; nothing to do here:
  // results are buffered whole (what wait_end_of_query asks), and there are no quotas or roles.
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
/**
 * Statements that run a query, to which the store's caps are added (other statements take no
 * SETTINGS clause, or one that means something else; they run no query to cap).
 */
const CAPPED = new Set(["SELECT", "WITH", "(", "INSERT"]);
/** Statements answered by streaming from the engine: cancellable, nothing left behind. */
const STREAMED = new Set(["SELECT", "WITH", "("]);
/**
 * Formats whose chunks can be concatenated: chDB's stream formats each chunk as a document of
 * its own (JSON's "meta", a CSV header, Pretty's frame per chunk), so whole-document formats
 * are run at once instead; max_execution_time still stops them in the engine.
 */
const ROW_FORMATS =
  /^(TabSeparated|TSV|TabSeparatedRaw|TSVRaw|CSV|JSONEachRow|JSONCompactEachRow|JSONStringsEachRow|JSONCompactStringsEachRow|JSONLines|NDJSON|RowBinary|Native|LineAsString|RawBLOB)$/i;
/** Settings the store adds to a Values insert from a body: its rows are data, never expressions. */
const VALUES_AS_DATA: [string, string][] = [
  ["input_format_values_interpret_expressions", "0"],
  ["input_format_values_deduce_templates_of_expressions", "0"],
];

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
  if ([164, 497, 452].includes(code)) return 403; // readonly, access denied, setting constraints
  if ([159].includes(code)) return 504; // timeout
  if ([372, 373].includes(code)) return 404; // session not found / locked
  return 500;
}

export function createHandler(engine: ChEngine, options: ServerOptions) {
  const caps = { ...DEFAULT_CAPS, ...options.caps };
  const maxBytes = options.maxResultBytes ?? 2 ** 30;
  const tableFunctions = options.tableFunctions ?? new Set<string>();
  const sessions = createSessions();

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
      const user = authenticate(req, url, options.credentials);
      const session = sessions.open(url);

      const { sql, data } = statementOf(url, await readBody(req));
      const info = inspect(sql);
      if (info.keyword === "") throw new SqlError(62, "Empty query", "SYNTAX_ERROR");
      if (info.multiple) throw new SqlError(62, "Multi-statements are not allowed", "SYNTAX_ERROR");

      const { params, settings: given } = parametersOf(url);
      const settings = [...(session?.settings ?? []), ...given];
      const role = roleOf(user, req.method, url.searchParams.get("readonly"), given);
      checkStatement(sql, info.keyword, role, settings, caps, tableFunctions);

      const format = info.format ?? url.searchParams.get("default_format") ??
        req.headers.get("X-ClickHouse-Format") ?? "TabSeparated";
      const database = url.searchParams.get("database") ?? session?.database ??
        req.headers.get("X-ClickHouse-Database") ?? undefined;
      const limits = limitsOf(settings, caps, CAPPED.has(info.keyword));
      const signal = deadline(req.signal, limits.seconds);

      let result: QueryResult | undefined;
      if (info.keyword === "SET" || info.keyword === "USE") {
        if (session) sessions.remember(session, info);
        result = undefined; // outside a session, nothing to change, as on a server
      } else if (info.keyword === "INSERT") {
        // Calls are serialized: the engine's inserted-rows count before and after is this
        // statement's, counted as a server counts X-ClickHouse-Summary's written_rows.
        const { build } = data
          ? insertFromFile(sql, info, [
            ...limits.settings,
            ...(info.format === undefined || /^Values$/i.test(info.format) ? VALUES_AS_DATA : []),
          ])
          : { build: undefined };
        const text = withSettings(info.text, limits.settings, info);
        result = await engine.exclusive(database, async (s) => {
          const before = await s.insertedRows();
          const r = build
            ? await s.insert(build, data!, params)
            : await s.query(text, format, params);
          r.rowsWritten = await s.insertedRows() - before;
          return r;
        }, signal);
      } else if (info.keyword === "CREATE" && settings.length > 0) {
        // A trailing SETTINGS clause of CREATE TABLE sets the table's settings: URL settings
        // apply to the statement instead, set around it on the connection and put back.
        result = await engine.exclusive(
          database,
          (s) => s.withSettings(limits.settings, () => s.query(info.text, format, params)),
          signal,
        );
      } else if (STREAMED.has(info.keyword) && ROW_FORMATS.test(format)) {
        const text = withSettings(info.text, limits.settings, info);
        result = await engine.exclusive(
          database,
          (s) => s.select(text, format, params, { signal, maxBytes }),
          signal,
        );
      } else {
        const text = withSettings(info.text, limits.settings, info);
        result = await engine.exclusive(database, (s) => s.query(text, format, params), signal);
      }
      if (session && url.searchParams.get("close_session") === "1") sessions.close(session);

      headers.set("X-ClickHouse-Format", format);
      headers.set("Content-Type", contentType(format));
      headers.set("X-ClickHouse-Summary", summaryOf(result, format, info.keyword === "INSERT"));
      return respond(result?.bytes ?? new Uint8Array(), req, url, headers);
    } catch (e) {
      return errorResponse(cancelled(e, req.signal), headers);
    }
  };
}

/**
 * What a request may do: its user's role, narrowed to reading for GET (ClickHouse's
 * `readonly=2` rule) and for `readonly=1|2`; `readonly=1` also forbids changing settings.
 * The store applies `readonly` itself and never hands it to the engine, where it would stay.
 */
function roleOf(
  user: Role,
  method: string,
  readonly: string | null,
  settings: [string, string][],
): Role {
  if (readonly !== null && !["0", "1", "2"].includes(readonly)) {
    throw new SqlError(72, `Cannot parse readonly value "${readonly}"`, "CANNOT_PARSE_NUMBER");
  }
  if (readonly === "1" && settings.length > 0) {
    throw new SqlError(
      164,
      `Cannot modify '${settings[0]![0]}' setting in readonly mode`,
      "READONLY",
    );
  }
  if (method === "GET" || readonly === "1" || readonly === "2") return "reader";
  return user;
}

/**
 * The request's settings with the store's caps added where the client set none, and the
 * request's deadline in seconds.
 */
function limitsOf(settings: [string, string][], caps: Caps, capped: boolean) {
  const named = new Map(settings.map(([n, v]) => [n.toLowerCase(), v]));
  const seconds = Number(named.get("max_execution_time") ?? caps.max_execution_time);
  if (!capped) return { settings, seconds };
  const out = [...settings];
  if (!named.has("max_memory_usage")) out.push(["max_memory_usage", String(caps.max_memory_usage)]);
  if (!named.has("max_execution_time")) {
    out.push(["max_execution_time", String(caps.max_execution_time)]);
  }
  return { settings: out, seconds };
}

/**
 * A signal that aborts when the client goes away or the deadline passes; the engine also
 * stops the query at `max_execution_time`, this covers the wait for it and the chunks.
 */
function deadline(client: AbortSignal, seconds: number): AbortSignal {
  const timeout = AbortSignal.timeout(Math.ceil(seconds * 1000) + 250);
  return AbortSignal.any([client, timeout]);
}

/** An abort as ClickHouse words it: a timeout (159), or a query cancelled (394). */
function cancelled(e: unknown, client: AbortSignal): unknown {
  if (!(e instanceof DOMException) && !(e instanceof Error && e.name === "TimeoutError")) return e;
  if (client.aborted) {
    return new SqlError(
      394,
      "Query was cancelled: the client closed the connection",
      "QUERY_WAS_CANCELLED",
    );
  }
  if ((e as Error).name === "TimeoutError") {
    return new SqlError(
      159,
      "Timeout exceeded: the request's max_execution_time passed",
      "TIMEOUT_EXCEEDED",
    );
  }
  return e;
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
function summaryOf(result: QueryResult | undefined, format: string, insert: boolean): string {
  const written = result?.rowsWritten ?? 0;
  return JSON.stringify({
    read_rows: String(result?.rowsRead ?? 0),
    read_bytes: String(result?.bytesRead ?? 0),
    written_rows: String(written),
    written_bytes: String(insert ? result?.bytesRead ?? 0 : 0),
    total_rows_to_read: String(result?.rowsRead ?? 0),
    result_rows: String(result ? result.resultRows ?? resultRows(result.bytes, format) : 0),
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
  if (info?.keyword !== "INSERT" && info?.settingsAt !== undefined) {
    // The statement's own SETTINGS clause: ours join it (one clause only), and its own
    // values, already checked against the caps, win.
    const own = new Set(
      [...sql.slice(info.settingsAt).matchAll(/([A-Za-z_]\w*)\s*=/g)].map((m) =>
        m[1]!.toLowerCase()
      ),
    );
    const extra = settingsClause(settings.filter(([n]) => !own.has(n.toLowerCase())));
    if (!extra) return sql;
    const at = info.settingsAt + "SETTINGS".length;
    return `${sql.slice(0, at)} ${extra.slice("SETTINGS ".length)},${sql.slice(at)}`;
  }
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
): { build: (file: string) => string } {
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
    return {
      build: (file) => withSettings(`${head}file(${file}, '${format}', ${args})${tail}`, settings),
    };
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
  return {
    build: (file) => `${head} FROM INFILE ${file}${all ? ` SETTINGS ${all}` : ""} FORMAT ${format}`,
  };
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
