/**
 * AVEVA (Wonderware) Historian as a source, through SQL Server (npm:mssql). It reads a real
 * Historian, or the simulator only where the demo command started one and named its address:
 * nothing here falls back to simulated data.
 */
import sql from "./_mssql.ts";
import { definePlugin, PluginError } from "../../engine/mod.ts";
import type { PluginContext, Source } from "../../engine/mod.ts";
import { options } from "./options.ts";
import type { Options } from "./options.ts";
import { classify, createSource } from "./source.ts";
import { FIELDS } from "./fields.ts";

export async function createWonderwareSource(
  opts: Options,
  context: PluginContext,
): Promise<Source> {
  const { host, port } = opts;
  if (opts.password) context.secrets.add(opts.password);
  const address = `${host}:${port}/${opts.database}`;
  const pool = new sql.ConnectionPool({
    server: host,
    port,
    database: opts.database,
    user: opts.user,
    password: opts.password,
    connectionTimeout: opts.connect_timeout,
    requestTimeout: opts.request_timeout,
    pool: { max: opts.pool_size, min: 0 },
    options: {
      encrypt: opts.encrypt,
      trustServerCertificate: opts.trust_server_certificate,
      ...(opts.ca_file && {
        cryptoCredentialsDetails: { ca: await readCa(opts.ca_file) },
      }),
      appName: "historian-sync",
      packetSize: 32_767,
    },
  });
  pool.on(
    "error",
    (e: Error) => context.log.warn("SQL Server pool error", { address, error: e.message }),
  );
  try {
    await pool.connect();
  } catch (e) {
    throw classify("connecting", e, address);
  }
  context.log.info("connected to the Historian", { address });
  return createSource({ pool, address, options: opts, log: context.log });
}

async function readCa(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new PluginError(
      "source-wonderware",
      `ca_file ${path} cannot be read: ${(e as Error).message}`,
      { reason: "invalid", cause: e },
    );
  }
}

export default definePlugin({
  kind: "source",
  name: "wonderware",
  description: "AVEVA (Wonderware) Historian over SQL Server (npm:mssql)",
  options,
  create: createWonderwareSource,
  fields: FIELDS,
  provides: ["count"],
});
