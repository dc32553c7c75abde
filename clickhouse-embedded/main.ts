/**
 * The embedded ClickHouse store as a process of its own: `deno task clickhouse`, or started and
 * supervised by the ClickHouse sink when the spec enables it. Loopback unless `--host` says
 * otherwise (for a Grafana on another machine: `--host 0.0.0.0`, with a password).
 *
 *   deno task clickhouse [--host 127.0.0.1] [--port 8123] [--path data/clickhouse] [--user default]
 *                        [--nice 10]
 *   (password from CLICKHOUSE_EMBEDDED_PASSWORD; unset means no authentication)
 *
 * Prints one line `listening on http://<host>:<port>` once it accepts queries.
 */
import { setPriority } from "node:os";
import { openChdb } from "./_chdb.ts";
import { createHandler } from "./server.ts";

const HELP =
  `Usage: deno task clickhouse [--host 127.0.0.1] [--port 8123] [--path data/clickhouse] [--user default] [--nice 10] [--exit-with-stdin]

Runs a ClickHouse engine (chDB) behind ClickHouse's HTTP interface, on loopback unless --host
names another address (0.0.0.0: every interface; set a password then).
CLICKHOUSE_EMBEDDED_PASSWORD, when set, is required from every client. --nice lowers its CPU
priority (default 10; 0 leaves it), so its merges yield to the Historian and the engine.`;

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`--${name} needs a value`);
  return value;
}

/**
 * Lowers this process's CPU priority (a nice value, 0–19), before the engine starts its threads:
 * on a plant server the store's inserts and merges yield to the Historian's SQL Server and to
 * the engine reading it, and use what CPU they leave. Linux keeps a priority per thread, so
 * each existing thread is lowered; the engine's threads, created after, inherit it.
 */
function yieldCpu(nice: number) {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
    throw new Error(`--nice must be an integer from 0 to 19, got "${nice}"`);
  }
  if (nice === 0) return;
  try {
    for (const task of Deno.readDirSync("/proc/self/task")) setPriority(Number(task.name), nice);
  } catch {
    setPriority(nice); // no /proc: the whole process, where the system has one priority for it
  }
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
  yieldCpu(Number(flag(args, "nice", "10")));
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
