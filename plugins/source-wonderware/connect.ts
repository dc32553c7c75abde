/**
 * Connecting to the Historian's SQL Server: the pool and its options. Loaded by mod.ts only when a
 * pipeline creates a Wonderware source, so a process without one (an Ignition plant) never loads
 * npm:mssql and its driver (15 MB of resident memory, measured with the command line loaded).
 */
import sql from "./_mssql.ts";
import { PluginError } from "../../engine/mod.ts";
import type { PluginContext, Source } from "../../engine/mod.ts";
import type { Options } from "./options.ts";
import { classify, createSource } from "./source.ts";
import type { ServerError } from "./_errors.ts";

/** What this plugin uses of a tedious connection, handed over by mssql's beforeConnect. */
interface TediousConnection {
  on(event: "errorMessage", listener: (e: ServerError) => void): void;
}

export async function createWonderwareSource(
  opts: Options,
  context: PluginContext,
): Promise<Source> {
  const { host, port } = opts;
  if (opts.password) context.secrets.add(opts.password);
  const address = `${host}:${port}/${opts.database}`;
  // The server's errors during the first login: the driver reports only the last (18456),
  // while a database the login cannot open is the 4060 before it.
  const serverErrors: ServerError[] = [];
  let connected = false;
  const listen = (connection: TediousConnection) =>
    connection.on("errorMessage", (e) => {
      if (!connected) serverErrors.push({ number: e.number, message: e.message });
    });
  const pool = new sql.ConnectionPool({
    server: host,
    port,
    database: opts.database,
    user: opts.user,
    password: opts.password,
    connectionTimeout: opts.connect_timeout,
    requestTimeout: opts.request_timeout,
    pool: { max: opts.pool_size, min: 0 },
    beforeConnect: listen,
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
    connected = true;
  } catch (e) {
    const { database, user } = opts;
    const endpoint = { host, port, database, user, setting: context.setting };
    throw classify("connecting", e, address, { endpoint, serverErrors });
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
