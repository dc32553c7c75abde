/**
 * The embedded ClickHouse store as a process of its own: `deno task clickhouse`, or started and
 * supervised by the ClickHouse sink when the spec enables it. Loopback unless `--host` says
 * otherwise (for a Grafana on another machine: `--host 0.0.0.0`, with a password).
 *
 *   deno task clickhouse [--host 127.0.0.1] [--port 8123] [--path data/clickhouse] [--user default]
 *   (password from CLICKHOUSE_EMBEDDED_PASSWORD; unset means no authentication)
 *
 * Prints one line `listening on http://<host>:<port>` once it accepts queries.
 */
import { openChdb } from "./_chdb.ts";
import { createHandler } from "./server.ts";

const HELP =
  `Usage: deno task clickhouse [--host 127.0.0.1] [--port 8123] [--path data/clickhouse] [--user default] [--exit-with-stdin]

Runs a ClickHouse engine (chDB) behind ClickHouse's HTTP interface, on loopback unless --host
names another address (0.0.0.0: every interface; set a password then).
CLICKHOUSE_EMBEDDED_PASSWORD, when set, is required from every client.`;

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`--${name} needs a value`);
  return value;
}

if (import.meta.main) {
  const args = Deno.args;
  if (args.includes("--help")) {
    console.log(HELP);
    Deno.exit(0);
  }
  const hostname = flag(args, "host", "127.0.0.1");
  const port = Number(flag(args, "port", "8123"));
  const path = flag(args, "path", "data/clickhouse");
  const user = flag(args, "user", "default");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid --port "${port}"`);
    Deno.exit(2);
  }
  const engine = await openChdb(path);
  const handler = createHandler(engine, {
    user,
    password: Deno.env.get("CLICKHOUSE_EMBEDDED_PASSWORD"),
  });
  const server = Deno.serve({
    hostname,
    port,
    onListen: ({ port }) =>
      console.log(
        `listening on http://${hostname}:${port} (ClickHouse ${engine.version}, data in ${path})`,
      ),
  }, handler);
  const stop = async () => {
    await server.shutdown();
    engine.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  if (args.includes("--exit-with-stdin")) {
    // Started by the sink: when the parent goes away (even by SIGKILL), stdin closes; follow it.
    (async () => {
      for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
      await stop();
    })();
  }
}
