/**
 * The command line: `run`, `validate` and `schema`. The same verbs back the `deno task`s.
 */
import { z } from "zod";
import { startEngine } from "./engine/engine.ts";
import { ConfigError } from "./engine/errors.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "./engine/log.ts";
import { systemClock } from "./engine/plugin.ts";
import { backfill, createHealth, syncOnce, tagList } from "./engine/pipeline.ts";
import type { PipelineContext } from "./engine/pipeline.ts";
import { compilePattern } from "./engine/assets.ts";
import { loadSpec } from "./engine/spec/load.ts";
import { resolveTimeRef, specSchema, timeRef } from "./engine/spec/schema.ts";
import { dateFromTicks, TICKS_PER_MS, ticksFromDate } from "./engine/types.ts";
import type { Ticks } from "./engine/types.ts";
import { plugins } from "./plugins/registry.ts";
import { runSim } from "./plugins/source-wonderware/simulator/main.ts";
import { createApi } from "./api/app.ts";
import denoJson from "./deno.json" with { type: "json" };

/** True inside a `deno compile`d binary (the executable is not deno itself). */
const COMPILED = !/(^|[\\/])deno(\.exe)?$/.test(Deno.execPath());
/** The spec: next to the executable for the binary, the shipped one for `deno task`. */
export const DEFAULT_SPEC = COMPILED
  ? `${Deno.execPath().replace(/[\\/][^\\/]*$/, "")}/wonderware.yaml`
  : "pipelines/wonderware.yaml";
const VERSION = `historian-sync ${denoJson.version}`;

const HELP: Record<string, string> = {
  main: `${VERSION}: moves AVEVA (Wonderware) Historian data into ClickHouse and keeps it in sync

Usage: main.ts <command> [options]

Commands:
  run [spec]           Run a pipeline: backfill, then sync on schedule (default ${DEFAULT_SPEC})
  backfill [spec]      Backfill history: --from TIME --to TIME --tags PATTERN
  validate [spec...]   Check specs; print every problem as file:line:col path: message
  sim [options]        Run the Historian simulator (see sim --help)
  schema [file]        Write the JSON Schema of pipeline specs (default: stdout)

Options: --help, --version. Environment: LOG_LEVEL (debug|info|warn|error), LOG_FORMAT (text|json).`,
  run: `Usage: main.ts run [spec]

Loads the spec (default ${DEFAULT_SPEC}), starts its cache, sink and source plugins, prepares
the tables, backfills the spec's range, then syncs on the spec's schedule until SIGINT or
SIGTERM; then it stops at a clean point and closes the plugins in reverse order (exit 0).
Exit 1 when the spec is invalid or a plugin fails to start.`,
  backfill: `Usage: main.ts backfill [spec] [--from TIME] [--to TIME] [--tags PATTERN]

Backfills the history of the spec's tags (or those matching PATTERN, a glob or /regex/) over
[--from, --to] (default: the spec's backfill range; times as in specs: ISO 8601, now, now-30d),
skipping work units already done, and prints a report. Exit 0 when every unit succeeded,
1 otherwise (a rerun picks up the failed units).`,
  validate: `Usage: main.ts validate [spec...]

Validates each spec (default ${DEFAULT_SPEC}) without connecting to anything.
Exit 0 when all are valid; exit 1 and print one line per problem otherwise.`,
  sim: "",
  schema: `Usage: main.ts schema [file]

Writes the JSON Schema of pipeline specs, generated from the engine's and the plugins' schemas.`,
};

export async function main(args: string[]): Promise<number> {
  const [command = "--help", ...rest] = args;
  if (command === "--version" || command === "-V") return print(VERSION);
  if (command === "--help" || command === "-h" || command === "help") return print(HELP.main!);
  if (!(command in HELP) || command === "main") {
    console.error(`Unknown command "${command}"\n\n${HELP.main}`);
    return 2;
  }
  if (command === "sim") return await runSim(rest);
  if (rest.includes("--help") || rest.includes("-h")) return print(HELP[command]!);
  const flags = command === "backfill" ? ["--from", "--to", "--tags"] : [];
  const unknownFlag = rest.find((a, i) =>
    a.startsWith("-") && !flags.includes(a) && !flags.includes(rest[i - 1] ?? "")
  );
  if (unknownFlag) {
    console.error(`Unknown option "${unknownFlag}"\n\n${HELP[command]}`);
    return 2;
  }
  switch (command) {
    case "validate":
      return await validate(rest.length ? rest : [DEFAULT_SPEC]);
    case "schema":
      return await writeSchema(rest[0]);
    case "backfill":
      return await run(positional(rest, flags)[0] ?? DEFAULT_SPEC, {
        from: option(rest, "--from"),
        to: option(rest, "--to"),
        tags: option(rest, "--tags"),
      });
    default:
      return await run(rest[0] ?? DEFAULT_SPEC);
  }
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

function positional(args: string[], flags: string[]): string[] {
  return args.filter((a, i) => !a.startsWith("-") && !flags.includes(args[i - 1] ?? ""));
}

function print(text: string): number {
  console.log(text);
  return 0;
}

async function validate(files: string[]): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      await loadSpec(file, { plugins });
      console.log(`${file}: valid`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(e.message);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

async function writeSchema(file?: string): Promise<number> {
  const json = JSON.stringify(
    z.toJSONSchema(specSchema(plugins).schema, { io: "input", unrepresentable: "any" }),
    null,
    2,
  ) + "\n";
  if (file) {
    await Deno.writeTextFile(file, json);
    console.log(`wrote ${file}`);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(json));
  }
  return 0;
}

interface BackfillOnly {
  from?: string;
  to?: string;
  tags?: string;
}

/** `run` (backfill, then sync until a signal) or, with `only`, a single backfill. */
async function run(file: string, only?: BackfillOnly): Promise<number> {
  const secrets = new Set<string>();
  const log = createLogger({ ...loggerOptionsFromEnv((n) => Deno.env.get(n)), secrets });
  let loaded;
  try {
    loaded = await loadSpec(file, { plugins });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 1;
  }
  const spec = loaded.spec;
  log.info("pipeline loaded", {
    spec: file,
    name: spec.name,
    source: spec.source.plugin,
    sink: spec.sink.plugin,
    cache: spec.cache.plugin,
  });

  const stop = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        stop.abort(new Error(`stopping on ${signal}`));
        resolve(signal);
      });
    }
  });
  let engine;
  try {
    engine = await startEngine(loaded, { log, clock: systemClock, secrets, dataDir: "data" });
  } catch (e) {
    log.error("the pipeline could not start", { error: errorText(e) });
    return 1;
  }
  let code = 0;
  try {
    if (!engine.source || !engine.sink) {
      log.error("the pipeline cannot run without its source and sink", {
        unavailable: engine.unavailable,
      });
      code = 1;
    } else {
      const ctx = {
        engine,
        spec,
        log,
        clock: systemClock,
        health: createHealth(),
        signal: stop.signal,
      };
      const server = only ? undefined : serveApi(ctx, secrets);
      try {
        code = only ? await backfillOnly(ctx, only) : await backfillThenSync(ctx, stopped);
      } finally {
        await server?.shutdown();
      }
    }
  } catch (e) {
    if (!stop.signal.aborted) {
      log.error("the pipeline failed", { error: errorText(e) });
      code = 1;
    }
  }
  log.info("stopping", {
    reason: stop.signal.aborted ? String((stop.signal.reason as Error).message) : "done",
  });
  await engine.close();
  log.info("stopped cleanly");
  return code;
}

/** Starts the REST API declared in the spec, if any. */
function serveApi(ctx: PipelineContext, secrets: Set<string>): Deno.HttpServer | undefined {
  const api = ctx.spec.api;
  if (!api || Object.keys(api.routes).length === 0) return undefined;
  if (api.token) secrets.add(api.token);
  const app = createApi(api, {
    sink: ctx.engine.sink,
    health: ctx.health,
    sourceHealth: () => ctx.engine.source!.health(),
    log: ctx.log.child({ component: "api" }),
  });
  return Deno.serve({
    hostname: api.hostname,
    port: api.port,
    onListen: ({ hostname, port }) =>
      ctx.log.info("REST API listening", {
        url: `http://${hostname}:${port}`,
        routes: Object.keys(api.routes).length,
      }),
  }, app.fetch);
}

/** The Historian's clock as a Date: relative times in specs count from it. */
async function historianNow(ctx: PipelineContext): Promise<Date> {
  return dateFromTicks(await ctx.engine.source!.serverTime());
}

async function backfillOnly(ctx: PipelineContext, only: BackfillOnly): Promise<number> {
  const now = await historianNow(ctx);
  const time = (text: string | undefined, fallback: Ticks) => {
    if (text === undefined) return fallback;
    const ref = timeRef.safeParse(text);
    if (!ref.success) {
      throw new ConfigError([{
        file: "command line",
        line: 1,
        col: 1,
        path: "",
        message: ref.error.issues[0]!.message,
      }]);
    }
    return resolveTimeRef(ref.data, now);
  };
  const lag = BigInt(ctx.spec.sync.safety_lag) * TICKS_PER_MS;
  const from = time(only.from, resolveTimeRef(ctx.spec.backfill.from, now));
  const to = time(
    only.to,
    minTicks(resolveTimeRef(ctx.spec.backfill.to, now), ticksFromDate(now) - lag),
  );
  let tags = await ctx.engine.source!.discover(ctx.signal);
  if (only.tags) {
    const pattern = compilePattern(only.tags, { ignoreCase: true });
    tags = tags.filter((t) => pattern.test(t.name));
  }
  const state = await ctx.engine.sink!.loadState();
  const report = await backfill(ctx, tags, from, to, state);
  console.log(JSON.stringify({ ...report, peak_rss_mb: peakRssMb() }));
  return report.failed.length === 0 && !ctx.signal.aborted ? 0 : 1;
}

async function backfillThenSync(ctx: PipelineContext, stopped: Promise<string>): Promise<number> {
  const { spec, log } = ctx;
  const state = await ctx.engine.sink!.loadState();
  const now = await historianNow(ctx);
  const lag = BigInt(spec.sync.safety_lag) * TICKS_PER_MS;
  const tags = await tagList(ctx);
  await backfill(
    ctx,
    tags,
    resolveTimeRef(spec.backfill.from, now),
    minTicks(resolveTimeRef(spec.backfill.to, now), ticksFromDate(now) - lag),
    state,
  );
  if (ctx.signal.aborted) return 0;
  const once = async () => {
    if (ctx.signal.aborted) return;
    try {
      await syncOnce(ctx, state);
    } catch (e) {
      if (!ctx.signal.aborted) {
        log.error("sync failed; the next run catches up", { error: errorText(e) });
      }
    }
  };
  if (spec.sync.interval) {
    log.info("syncing on an interval", { every_ms: spec.sync.interval });
    while (!ctx.signal.aborted) {
      const started = Date.now();
      await once();
      await systemClock.sleep(Math.max(0, spec.sync.interval - (Date.now() - started)), ctx.signal)
        .catch(() => {});
    }
  } else {
    log.info("syncing on a cron schedule (UTC)", { schedule: spec.sync.schedule });
    let running: Promise<void> = Promise.resolve();
    Deno.cron(`${spec.name}-sync`, spec.sync.schedule, { signal: ctx.signal }, () => {
      running = running.then(once);
      return running;
    });
    await stopped;
    await running;
  }
  return 0;
}

/** This process's peak resident memory in MB (Linux), or undefined. */
function peakRssMb(): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

function minTicks(a: Ticks, b: Ticks): Ticks {
  return a < b ? a : b;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
