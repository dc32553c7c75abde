/**
 * ClickHouse as the sink, through its HTTP interface (npm:@clickhouse/client) only, so a
 * server, a cluster, ClickHouse Cloud and the embedded store are all one code path.
 *
 * Built so far: the client and a reachability check. Tables, inserts, state and queries come
 * with the ClickHouse sink issue; the embedded store used when no URL is set comes with it too.
 */
import { createClient } from "@clickhouse/client";
import { definePlugin, PluginError } from "../../engine/mod.ts";
import type { PluginContext, Sink } from "../../engine/mod.ts";
import { endpointUrl, options } from "./options.ts";
import type { Options } from "./options.ts";

const PLUGIN = "sink-clickhouse";

export function createClickHouseSink(opts: Options, context: PluginContext): Promise<Sink> {
  const url = endpointUrl(opts);
  if (url === undefined) {
    return Promise.reject(
      new PluginError(
        PLUGIN,
        "sink.clickhouse.url and sink.clickhouse.host are empty (CLICKHOUSE_URL, CLICKHOUSE_HOST) and the embedded ClickHouse store is not built yet",
        { unavailable: true },
      ),
    );
  }
  if (opts.password) context.secrets.add(opts.password);
  const client = createClient({
    url,
    username: opts.user,
    password: opts.password,
    database: opts.database,
    request_timeout: opts.request_timeout,
    application: "historian-sync",
  });
  const address = new URL(url).host;
  return Promise.resolve({
    async ping() {
      const result = await client.ping();
      if (!result.success) {
        throw new PluginError(
          PLUGIN,
          `ClickHouse at ${address} is not reachable: ${result.error.message}`,
          {
            cause: result.error,
            retriable: true,
            unavailable: true,
          },
        );
      }
    },
    close: () => client.close(),
  });
}

export default definePlugin({
  kind: "sink",
  name: "clickhouse",
  description: "ClickHouse over HTTP (npm:@clickhouse/client)",
  options,
  create: createClickHouseSink,
});
