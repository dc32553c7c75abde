/**
 * Is the server ClickHouse, and did it store what it acknowledged? Any HTTP server that answers
 * 200 would otherwise be taken for ClickHouse: backfill and sync would report success while
 * nothing is stored. So on connect the sink checks the headers every ClickHouse HTTP answer
 * carries and that `SELECT version()` answers a version; and every insert's written-row count
 * (X-ClickHouse-Summary) is checked against the rows sent.
 *
 * The rule for written rows. ClickHouse counts `written_rows` as rows enter a table's insert
 * chain (its CountingTransform runs ahead of the table's sink, in InterpreterInsertQuery and in
 * the chain of each materialized view), so:
 * - a block the table drops as a duplicate (insert_deduplication_token seen before) still
 *   counts: a retried insert reports what it sent, not 0;
 * - the rows each materialized view writes are added (ClickHouse issue #18237).
 * Measured on chDB 26.7 (ClickHouse's engine): 3 rows into a table with one view report 6, and
 * the deduplicated retry reports 6 again. So a ClickHouse that stored an insert reports at least
 * the rows sent; fewer means rows were dropped on the way or nothing was stored at all, an error
 * that is never retried into a success. An answer without the header is not ClickHouse's (its
 * absence, not a count of 0, tells the two apart). Inserts are synchronous (`async_insert=0`):
 * an asynchronous insert's rows are counted by the flush, not by the query. Checked: every insert
 * of rows the sink sends (readings, the asset dimension, watermarks); not yet the statements that
 * insert by SELECT (unit and run records, aggregate recomputations), whose rows the embedded
 * store does not count yet.
 */
import type { ResponseHeaders } from "@clickhouse/client";
import { PluginError } from "../../engine/mod.ts";

const PLUGIN = "sink-clickhouse";

const PORT_HINT = "is this a ClickHouse HTTP port? " +
  "(ClickHouse's default HTTP port is 8123; 9000 is the native protocol)";

/** Headers every ClickHouse answer to a query carries; one of each group is enough. */
const HEADERS = [
  ["X-ClickHouse-Query-Id", "X-ClickHouse-Server-Display-Name"],
  ["X-ClickHouse-Summary"],
  ["X-ClickHouse-Format"],
];

/** An answer of the server at `address`: its headers, and the summary the client parsed. */
export interface Answer {
  response_headers: ResponseHeaders;
  summary?: { written_rows?: string };
}

/** The server at `address` answered, but not as ClickHouse: never worth retrying. */
function notClickHouse(address: string, what: string): PluginError {
  return new PluginError(PLUGIN, `${address} ${what}`, { reason: "protocol" });
}

/**
 * The version in the answer to `SELECT version() AS version FORMAT JSON`, once the answer is
 * found to be ClickHouse's: its headers, and a version string.
 */
export function versionOf(address: string, answer: Answer, body: string): string {
  const missing = HEADERS.filter((names) => !names.some((n) => header(answer, n)));
  if (missing.length > 0) {
    throw notClickHouse(
      address,
      `answered HTTP 200 without ClickHouse's headers (${
        missing.map((names) => names.join(" or ")).join(", ")
      }): ${PORT_HINT}`,
    );
  }
  let version: unknown;
  try {
    version = (JSON.parse(body) as { data: { version: unknown }[] }).data[0]?.version;
  } catch { /* not JSON: said below */ }
  if (typeof version !== "string" || !/^\d+\.\d+/.test(version)) {
    throw notClickHouse(
      address,
      `answered SELECT version() with ${
        JSON.stringify(body.slice(0, 80))
      }, not a version: ${PORT_HINT}`,
    );
  }
  return version;
}

/** Throws unless an insert's answer says that at least `sent` rows were written (see above). */
export function checkWritten(address: string, what: string, answer: Answer, sent: number): void {
  if (!answer.summary || !header(answer, "X-ClickHouse-Summary")) {
    throw notClickHouse(
      address,
      `acknowledged ${what} without X-ClickHouse-Summary, so nothing says it was stored: ${PORT_HINT}`,
    );
  }
  const written = Number(answer.summary.written_rows);
  if (!(written >= sent)) {
    throw new PluginError(
      PLUGIN,
      `${address} acknowledged ${what} but reports ${answer.summary.written_rows} rows written ` +
        `of the ${sent} sent: they are not all stored`,
      { reason: "protocol" },
    );
  }
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.response_headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
