/**
 * AVEVA (Wonderware) Historian as a source, through SQL Server (npm:mssql).
 *
 * Built so far: the connection (pool, timeouts, login errors that say what to fix) and the
 * Historian's clock. Tag discovery and history reads come with the source issue; the
 * built-in simulator used when no host is set comes with the simulator issue.
 */
import sql from "mssql";
import { definePlugin, PluginError, TICKS_PER_MS } from "../../engine/mod.ts";
import type { PluginContext, Source, Ticks } from "../../engine/mod.ts";
import { options } from "./options.ts";
import type { Options } from "./options.ts";

const PLUGIN = "source-wonderware";

export async function createWonderwareSource(
  opts: Options,
  context: PluginContext,
): Promise<Source> {
  if (opts.host.trim() === "") {
    throw new PluginError(
      PLUGIN,
      "source.wonderware.host is empty (WONDERWARE_HOST) and the built-in Historian simulator is not built yet",
      { unavailable: true },
    );
  }
  if (opts.password) context.secrets.add(opts.password);
  const address = `${opts.host}:${opts.port}/${opts.database}`;
  const pool = new sql.ConnectionPool({
    server: opts.host,
    port: opts.port,
    database: opts.database,
    user: opts.user,
    password: opts.password,
    connectionTimeout: opts.connect_timeout,
    requestTimeout: opts.request_timeout,
    pool: { max: opts.pool_size, min: 0 },
    options: {
      encrypt: opts.encrypt,
      trustServerCertificate: opts.trust_server_certificate,
      appName: "historian-sync",
    },
  });
  pool.on("error", (e: Error) => context.log.warn("SQL Server pool error", { address, error: e }));
  try {
    await pool.connect();
  } catch (e) {
    throw connectError(e, address, opts.user);
  }
  context.log.info("connected to the Historian", { address });

  return {
    async serverTime(): Promise<Ticks> {
      const result = await pool.request().query("SELECT SYSUTCDATETIME() AS now");
      const now = result.recordset[0]?.now as (Date & { nanosecondsDelta?: number }) | undefined;
      if (!now) {
        throw new PluginError(PLUGIN, "SYSUTCDATETIME() returned no row", { retriable: true });
      }
      return BigInt(now.getTime()) * TICKS_PER_MS +
        BigInt(Math.round((now.nanosecondsDelta ?? 0) * 1e7));
    },
    async close() {
      await pool.close();
    },
  };
}

function connectError(e: unknown, address: string, user: string): PluginError {
  const code = (e as { code?: string }).code;
  if (code === "ELOGIN") {
    return new PluginError(
      PLUGIN,
      `login to ${address} as "${user}" was refused: check WONDERWARE_USERNAME and WONDERWARE_PASSWORD`,
      { cause: e },
    );
  }
  return new PluginError(PLUGIN, `cannot connect to ${address}: ${(e as Error).message}`, {
    cause: e,
    retriable: true,
    unavailable: true,
  });
}

export default definePlugin({
  kind: "source",
  name: "wonderware",
  description: "AVEVA (Wonderware) Historian over SQL Server (npm:mssql)",
  options,
  create: createWonderwareSource,
});
