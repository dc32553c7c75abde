/**
 * The embedded ClickHouse store as a process of its own: `deno task clickhouse`, or started and
 * supervised by the ClickHouse sink when the spec enables it. Loopback unless `--host` says
 * otherwise (for a Grafana on another machine: `--host 0.0.0.0`).
 *
 * Always asks for a login (see _auth.ts): passwords from CLICKHOUSE_EMBEDDED_PASSWORD and
 * CLICKHOUSE_EMBEDDED_READER_PASSWORD, or generated into <path>/credentials.env. Started by the
 * sink (`--secrets-from-stdin`), it reads them from the first line of its stdin instead, so its
 * environment holds no secret. Prints one line `listening on http://<host>:<port>` once it
 * accepts queries.
 */
import { parseArgs } from "node:util";
import { setPriority } from "node:os";
import { credentialsFile, loadCredentials } from "./credentials.ts";
import { openChdb } from "./_chdb.ts";
import { createHandler, DEFAULT_CAPS } from "./server.ts";

const HELP =
  `Usage: deno task clickhouse [--host 127.0.0.1] [--port 8123] [--path data/clickhouse] [--user default]
                            [--nice 10] [--max-query-memory 4096] [--max-execution-time 600]

Runs a ClickHouse engine (chDB) behind ClickHouse's HTTP interface, on loopback unless --host
names another address (0.0.0.0: every interface).

Every client logs in: the writer (--user, default "default") and "reader" (read-only, for
Grafana and other dashboards). Their passwords come from CLICKHOUSE_EMBEDDED_PASSWORD and
CLICKHOUSE_EMBEDDED_READER_PASSWORD, or are generated at first start into
<path>/credentials.env (readable by its owner only; the path is printed, never a password).

--max-query-memory  MiB one query may use (default 4096); --max-execution-time: seconds one
                    query may run (default 600). No client can lift either.
--nice              lowers its CPU priority (default 10; 0 leaves it), so its merges yield to
                    the Historian and the engine.`;

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

/** The first line of stdin: `{"password": "...", "readerPassword": "..."}` from the supervisor. */
async function secretsFromStdin(reader: ReadableStreamDefaultReader<Uint8Array>) {
  let text = "";
  const decoder = new TextDecoder();
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return JSON.parse(text.split("\n")[0] || "{}") as { password?: string; readerPassword?: string };
}

if (import.meta.main) {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      help: { type: "boolean" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8123" },
      path: { type: "string", default: "data/clickhouse" },
      user: { type: "string", default: "default" },
      nice: { type: "string", default: "10" },
      "max-query-memory": {
        type: "string",
        default: String(DEFAULT_CAPS.max_memory_usage / 2 ** 20),
      },
      "max-execution-time": { type: "string", default: String(DEFAULT_CAPS.max_execution_time) },
      "exit-with-stdin": { type: "boolean" },
      "secrets-from-stdin": { type: "boolean" },
    },
  });
  if (args.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Invalid --port "${args.port}"`);
    Deno.exit(2);
  }
  const memoryMiB = Number(args["max-query-memory"]);
  const seconds = Number(args["max-execution-time"]);
  if (!(memoryMiB > 0) || !(seconds > 0)) {
    console.error("--max-query-memory and --max-execution-time must be positive numbers");
    Deno.exit(2);
  }
  const stdin = Deno.stdin.readable.getReader();
  const given = args["secrets-from-stdin"] ? await secretsFromStdin(stdin) : {
    password: Deno.env.get("CLICKHOUSE_EMBEDDED_PASSWORD"),
    readerPassword: Deno.env.get("CLICKHOUSE_EMBEDDED_READER_PASSWORD"),
  };
  yieldCpu(Number(args.nice));
  const path = args.path;
  const credentials = await loadCredentials(path, { user: args.user, ...given });
  const engine = await openChdb(path);
  const tableFunctions = await engine.exclusive(undefined, async (s) =>
    new Set(
      new TextDecoder().decode(
        (await s.query("SELECT lower(name) FROM system.table_functions", "TabSeparatedRaw", {}))
          .bytes,
      ).split("\n").filter(Boolean),
    ));
  const handler = createHandler(engine, {
    credentials,
    caps: { max_memory_usage: Math.round(memoryMiB * 2 ** 20), max_execution_time: seconds },
    tableFunctions,
  });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: args.host,
      port,
      onListen: ({ port }) =>
        console.log(
          `listening on http://${args.host}:${port} (ClickHouse ${engine.version}, data in ${path}; users "${credentials.writer.user}" and "${credentials.reader.user}"; generated passwords in ${
            credentialsFile(path)
          })`,
        ),
    }, handler);
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    console.error(
      `Cannot serve the embedded store at ${args.host}:${port}: the address is already in use (another embedded store, a ClickHouse or another program listens there): stop it, set CLICKHOUSE_EMBEDDED_PORT (the sink's embedded.port) or --port to a free port (e.g. 8124), or set CLICKHOUSE_URL to use a ClickHouse of yours`,
    );
    Deno.exit(2);
  }
  const stop = async () => {
    await server.shutdown();
    engine.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  if (args["exit-with-stdin"]) {
    // Started by the sink: when the parent goes away (even by SIGKILL), stdin closes; follow it.
    (async () => {
      while (!(await stdin.read()).done) { /* nothing more is sent */ }
      await stop();
    })();
  }
}
