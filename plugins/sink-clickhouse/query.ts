/**
 * The sink's query capability: declared SQL with typed parameters, for the API; and ping.
 *
 * Every limit the caller gives becomes one of ClickHouse's own, so the store refuses the work
 * instead of the machine running out: `max_execution_time` (throw at the deadline),
 * `max_result_rows`/`max_result_bytes` (throw past the cap) and `max_memory_usage`. An aborted
 * signal closes the request, and `cancel_http_readonly_queries_on_client_close` makes a
 * ClickHouse server cancel the query then (by default it would run on to its end).
 */
import type { ClickHouseSettings } from "@clickhouse/client";
import { PluginError } from "../../engine/mod.ts";
import type { QueryOptions, QueryParams, QueryService } from "../../engine/mod.ts";
import { attempt, PLUGIN, reasonOf } from "./_client.ts";
import type { Conn } from "./_client.ts";

/** ClickHouse's settings for the limits of one query. */
export function limitSettings(options: QueryOptions): ClickHouseSettings {
  const settings: ClickHouseSettings = { cancel_http_readonly_queries_on_client_close: 1 };
  if (options.timeoutMs) {
    settings.max_execution_time = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    settings.timeout_overflow_mode = "throw";
  }
  if (options.maxRows) settings.max_result_rows = String(options.maxRows);
  if (options.maxBytes) settings.max_result_bytes = String(options.maxBytes);
  if (options.maxRows || options.maxBytes) settings.result_overflow_mode = "throw";
  if (options.maxMemory) settings.max_memory_usage = String(options.maxMemory);
  return settings;
}

export function createQueries(conn: Conn): QueryService {
  return {
    async ping() {
      const result = await conn.client.ping();
      if (!result.success) {
        throw new PluginError(
          PLUGIN,
          `ClickHouse at ${conn.address} is not reachable: ${result.error.message}${
            conn.fix?.(result.error) ? `: ${conn.fix(result.error)}` : ""
          }`,
          { cause: result.error, retriable: true, unavailable: true, reason: "connection" },
        );
      }
    },

    async query<T>(sql: string, params: QueryParams = {}, options: QueryOptions = {}) {
      const { signal } = options;
      try {
        const text = await attempt(conn, "query", async () => {
          // JSONEachRow, parsed once as one array (JSON.parse per line took ~20 % longer for a
          // few thousand rows). A row format: the embedded store streams it from its engine, so
          // a request given up stops the query there too (a whole-document format such as JSON
          // would run to its end). A statement without a result (ALTER, …) answers nothing.
          const result = await conn.client.query({
            query: sql,
            query_params: params,
            format: "JSONEachRow",
            clickhouse_settings: limitSettings(options),
            abort_signal: signal,
          });
          return await result.text();
        });
        return text === "" ? [] : dataOf<T>(text, conn.address);
      } catch (e) {
        if (!signal?.aborted) throw e;
        throw new PluginError(
          PLUGIN,
          `query at ${conn.address} cancelled: ${reasonOf(signal.reason)}`,
          { cause: e, reason: "timeout" },
        );
      }
    },
  };
}

/**
 * The rows of a JSONEachRow answer, one object per line; an answer that is not that is a
 * protocol error. A raw newline cannot occur inside a JSON value (it is written `\n`), so the
 * lines join into one array with commas and are parsed at once.
 */
function dataOf<T>(text: string, address: string): T[] {
  try {
    const data = JSON.parse(`[${text.trimEnd().replaceAll("\n", ",")}]`) as unknown[];
    if (data.every((row) => typeof row === "object" && row !== null && !Array.isArray(row))) {
      return data as T[];
    }
  } catch { /* said below */ }
  throw new PluginError(
    PLUGIN,
    `${address} answered a query with something other than ClickHouse's JSONEachRow: ${
      JSON.stringify(text.slice(0, 80))
    }`,
    { reason: "protocol" },
  );
}
