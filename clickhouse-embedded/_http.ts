/**
 * ClickHouse's HTTP interface as the store answers it: where a request's statement, data,
 * parameters and settings come from, and how an answer or an error is written (status,
 * headers, `X-ClickHouse-Summary`, gzip), as a ClickHouse server does.
 */
import type { QueryResult } from "./_chdb.ts";
import { inspect, SqlError } from "./_sql.ts";

/** URL parameters that are not settings: read here, or reserved by ClickHouse's HTTP handler. */
export const META = new Set([
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

const CONTENT_TYPES: Record<string, string> = {
  TabSeparated: "text/tab-separated-values; charset=UTF-8",
  TSV: "text/tab-separated-values; charset=UTF-8",
  CSV: "text/csv; charset=UTF-8; header=absent",
  CSVWithNames: "text/csv; charset=UTF-8; header=present",
};

export function contentType(format: string): string {
  if (CONTENT_TYPES[format]) return CONTENT_TYPES[format];
  if (/^JSON|^NDJSON/i.test(format)) return "application/json; charset=UTF-8";
  if (/^(TabSeparated|TSV|CSV|Pretty|Values|Vertical|Markdown|Raw|LineAsString)/i.test(format)) {
    return "text/plain; charset=UTF-8";
  }
  return "application/octet-stream";
}

/** ClickHouse's mapping of a few error codes to HTTP statuses; everything else is 500. */
export function statusOf(code: number): number {
  if ([62, 27, 26, 6, 38, 41, 72, 36, 115, 457, 53, 70, 117].includes(code)) return 400; // syntax, parse, bad arguments
  if ([60, 81, 46, 47].includes(code)) return 404; // unknown table, database, function, identifier
  if ([516, 192, 193, 194].includes(code)) return 403; // authentication
  if ([164, 497, 452].includes(code)) return 403; // readonly, access denied, setting constraints
  if ([159].includes(code)) return 504; // timeout
  if ([372, 373].includes(code)) return 404; // session not found / locked
  return 500;
}

/** The statement of a request: in `query`, in the body, or in `query` with the body as its data. */
export function statementOf(url: URL, body: Uint8Array<ArrayBuffer>) {
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
export function summaryOf(
  result: QueryResult | undefined,
  format: string,
  insert: boolean,
): string {
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
export function errorResponse(e: unknown, headers: Headers): Response {
  const message = e instanceof Error ? e.message : String(e);
  const code = Number(/^Code: (\d+)\./.exec(message)?.[1] ?? 1000);
  headers.set("X-ClickHouse-Exception-Code", String(code));
  headers.set("Content-Type", "text/plain; charset=UTF-8");
  return new Response(
    `${message.startsWith("Code:") ? message : `Code: ${code}. DB::Exception: ${message}`}\n`,
    { status: statusOf(code), headers },
  );
}

/** Query parameters and per-query settings of a request's URL; refuses what cannot be honoured. */
export function parametersOf(url: URL) {
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

export async function readBody(req: Request): Promise<Uint8Array<ArrayBuffer>> {
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

export function respond(
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
