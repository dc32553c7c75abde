/** The sink's query capability: declared SQL with typed parameters, for the API; and ping. */
import type { ClickHouseSettings } from "@clickhouse/client";
import { PluginError } from "../../engine/mod.ts";
import type { QueryParams, QueryService } from "../../engine/mod.ts";
import { attempt, PLUGIN } from "./_client.ts";
import type { Conn } from "./_client.ts";

export function createQueries(conn: Conn): QueryService {
  return {
    async ping() {
      const result = await conn.client.ping();
      if (!result.success) {
        throw new PluginError(
          PLUGIN,
          `ClickHouse at ${conn.address} is not reachable: ${result.error.message}`,
          { cause: result.error, retriable: true, unavailable: true, reason: "connection" },
        );
      }
    },

    query<T>(
      sql: string,
      params: QueryParams = {},
      options: { timeoutMs?: number; maxRows?: number } = {},
    ) {
      const settings: ClickHouseSettings = {};
      if (options.timeoutMs) {
        settings.max_execution_time = Math.max(1, Math.ceil(options.timeoutMs / 1000));
      }
      if (options.maxRows) {
        settings.max_result_rows = String(options.maxRows);
        settings.result_overflow_mode = "throw";
      }
      return attempt(conn, "query", async () => {
        const result = await conn.client.query({
          query: sql,
          query_params: params,
          format: "JSONEachRow",
          clickhouse_settings: settings,
        });
        return await result.json<T>();
      });
    },
  };
}
