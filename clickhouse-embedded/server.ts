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
import { inspect, SqlError } from "./_sql.ts";
import {
  contentType,
  errorResponse,
  parametersOf,
  readBody,
  respond,
  statementOf,
  summaryOf,
} from "./_http.ts";
import { insertFromFile, VALUES_AS_DATA, withSettings } from "./_statement.ts";

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
