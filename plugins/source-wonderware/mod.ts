/**
 * AVEVA (Wonderware) Historian as a source, through SQL Server (npm:mssql). With no host
 * configured it starts the built-in Historian simulator (./simulator) on loopback and reads
 * from it over real TDS, exactly as it would from a plant's Historian.
 */
import sql from "mssql";
import { definePlugin } from "../../engine/mod.ts";
import type { PluginContext, Source } from "../../engine/mod.ts";
import { options } from "./options.ts";
import type { Options } from "./options.ts";
import { classify, createSource } from "./source.ts";
import { FIELDS } from "./fields.ts";
import { startSimulator } from "../../simulator/mod.ts";

export async function createWonderwareSource(
  opts: Options,
  context: PluginContext,
): Promise<Source> {
  let host = opts.host.trim();
  let port = opts.port;
  let stopSimulator: (() => Promise<void>) | undefined;
  if (host === "") {
    const s = opts.simulator;
    const sim = await startSimulator({
      port: s.port,
      timezone: s.timezone,
      dataset: s.dataset,
      plant: {
        analog: s.analog,
        discrete: s.discrete,
        string: s.string,
        analogRateMs: s.analog_rate,
        historyMs: s.history,
      },
      user: opts.user || undefined,
      password: opts.user ? opts.password : undefined,
    });
    host = sim.host;
    port = sim.port;
    stopSimulator = () => sim.close();
    context.log.warn(
      "WONDERWARE_HOST is not set: reading from the BUILT-IN HISTORIAN SIMULATOR, not a real Historian",
      {
        address: `${host}:${port}`,
        tags: sim.tags.length,
        timezone: sim.timezone,
        dataset: s.dataset,
      },
    );
  }
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
    await stopSimulator?.();
    throw classify("connecting", e, address);
  }
  context.log.info("connected to the Historian", { address });
  return createSource({ pool, address, options: opts, log: context.log, onClose: stopSimulator });
}

export default definePlugin({
  kind: "source",
  name: "wonderware",
  description:
    "AVEVA (Wonderware) Historian over SQL Server (npm:mssql); the built-in simulator when no host is set",
  options,
  create: createWonderwareSource,
  fields: FIELDS,
});
