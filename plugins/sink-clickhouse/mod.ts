/**
 * ClickHouse as the sink, through its HTTP interface (npm:@clickhouse/client) only, so a
 * server, a cluster, ClickHouse Cloud and the embedded store are all one code path.
 *
 * With `embedded.enabled` (and neither `url` nor `host`), the sink starts the embedded store (chDB in a process of its
 * own, see clickhouse-embedded/) on loopback, supervises it, and stops it on close.
 */
import { ClickHouseLogLevel } from "@clickhouse/client";
import { createClient } from "./_client_lib.ts";
import { definePlugin, PluginError } from "../../engine/mod.ts";
import type { PluginContext, Sink } from "../../engine/mod.ts";
import { startEmbedded } from "../../clickhouse-embedded/mod.ts";
import { endpointUrl, options, targetOf } from "./options.ts";
import { clusterSettings } from "./cluster.ts";
import type { Options } from "./options.ts";
import { connOf, serverVersion } from "./_client.ts";
import { checkModel } from "./check.ts";
import { fixFor } from "./_hints.ts";
import { createSink } from "./sink.ts";

const PLUGIN = "sink-clickhouse";

export async function createClickHouseSink(opts: Options, context: PluginContext): Promise<Sink> {
  let url = endpointUrl(opts);
  let stopEmbedded: (() => Promise<void>) | undefined;
  let user = opts.user;
  let password = opts.password;
  let reader: { user: string; password: string } | undefined;
  if (url === undefined) {
    context.log.warn(
      "embedded.enabled: starting the EMBEDDED ClickHouse store (chDB), not a ClickHouse server",
      {
        path: opts.embedded.path,
        port: opts.embedded.port,
      },
    );
    try {
      // The store always asks for a login: the sink's user and password (CLICKHOUSE_PASSWORD)
      // when given, otherwise the ones the store generated in its data folder.
      const store = await startEmbedded({
        host: opts.embedded.host,
        port: opts.embedded.port,
        path: opts.embedded.path,
        user: opts.user,
        password: opts.password || undefined,
        log: context.log,
        clock: context.clock,
      });
      url = store.url;
      ({ user, password } = store.credentials.writer);
      reader = store.credentials.reader;
      context.secrets.add(reader.password);
      stopEmbedded = () => store.stop();
    } catch (e) {
      throw new PluginError(
        PLUGIN,
        `the embedded ClickHouse store did not start: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
  if (password) context.secrets.add(password);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PluginError(PLUGIN, "sink.clickhouse.url is not a valid URL");
  }
  if (parsed.username || parsed.password) {
    // Credentials in the URL (http://user:password@host:8123) are the login: taken out of the
    // URL, so they travel as the client's login and never in an address or a message.
    user = decodeURIComponent(parsed.username) || user;
    password = decodeURIComponent(parsed.password);
    if (password) context.secrets.add(password);
    parsed.username = "";
    parsed.password = "";
    url = parsed.href.replace(/\/$/, "");
  }
  const common = {
    url,
    username: user,
    password,
    request_timeout: opts.request_timeout,
    application: "historian-sync",
    // A socket is checked for its age before reuse (see _client_lib.ts).
    keep_alive: { eagerly_destroy_stale_sockets: true },
    // Failures surface as PluginErrors and are logged once, by the engine's logger.
    log: { level: ClickHouseLogLevel.OFF },
  };
  const target = targetOf(opts);
  // On a cluster, every statement of the writer: synchronous Distributed inserts, one replica
  // per shard for writes and the reads after them (cluster.ts).
  const writerSettings = target.cluster ? clusterSettings(opts.request_timeout) : {};
  const setting = (key: string) => context.setting?.(key) ?? `sink.clickhouse.${key}`;
  const fix = (e: unknown) => fixFor(e, setting, stopEmbedded !== undefined);
  const conn = connOf(
    (database) => createClient({ ...common, database, clickhouse_settings: writerSettings }),
    target,
    parsed.host,
    fix,
  );
  const readerConn = reader &&
    connOf(
      (database) =>
        createClient({ ...common, username: reader!.user, password: reader!.password, database }),
      target,
      parsed.host,
      fix,
    );
  const sink = createSink({
    conn,
    readerConn,
    log: context.log,
    onClose: stopEmbedded,
    spec: context.spec,
  });
  let version: string;
  try {
    await sink.queries!.ping();
    // Any HTTP server answers a ping: only ClickHouse answers as ClickHouse (_is_clickhouse.ts).
    version = await serverVersion(conn);
  } catch (e) {
    await sink.close();
    throw e;
  }
  context.log.info("connected to ClickHouse", {
    address: parsed.host,
    database: opts.database,
    version,
  });
  return sink;
}

export default definePlugin({
  kind: "sink",
  name: "clickhouse",
  description:
    "ClickHouse over HTTP (npm:@clickhouse/client); the embedded store when no URL is set",
  options,
  create: createClickHouseSink,
  provides: ["state", "query", "explain", "count", "migrate"],
  checkModel,
});
