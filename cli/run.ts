/**
 * `run` (backfill, then sync until SIGINT/SIGTERM, with the REST API) and `backfill` (one
 * backfill and a JSON report); `withPipeline` and `selection` serve `verify` too. Each starts
 * the engine from a spec, stops at a clean point on a signal, and closes the plugins in reverse
 * order.
 */
import { compilePattern } from "../engine/assets.ts";
import { backfill, backfillRange } from "../engine/backfill.ts";
import type { PipelineContext } from "../engine/context.ts";
import { parts } from "../engine/context.ts";
import { startEngine } from "../engine/engine.ts";
import type { Engine } from "../engine/engine.ts";
import { ConfigError } from "../engine/errors.ts";
import { createHealth, noteError } from "../engine/health.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { resolveTimeRef, timeRef } from "../engine/spec/schema.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import { backfillThenSync } from "../engine/sync.ts";
import { dateFromTicks } from "../engine/types.ts";
import type { TagInfo, Ticks } from "../engine/types.ts";
import { createApi } from "../api/app.ts";
import type { SiteHealth } from "../api/app.ts";
import { apiOf } from "../api/spec.ts";
import { checkRoutes } from "../api/route_check.ts";
import denoJson from "../deno.json" with { type: "json" };
import { load } from "./_load.ts";
import { terminalProgress } from "./_progress.ts";
import { stopOnSignals } from "./_stop.ts";
import { listen } from "./_listen.ts";

const VERSION = denoJson.version;

export interface BackfillOnly {
  from?: string;
  to?: string;
  tags?: string;
}

/** `env` resolves the spec's variables (default: the process environment). */
export function runCommand(
  file: string,
  env?: (name: string) => string | undefined,
): Promise<number> {
  return withPipeline(file, env, async (ctx, secrets) => {
    const server = serveApi(ctx, secrets);
    try {
      await backfillThenSync(ctx);
      return 0;
    } finally {
      await server?.shutdown();
    }
  });
}

export function backfillCommand(file: string, only: BackfillOnly): Promise<number> {
  return withPipeline(file, undefined, (ctx) => backfillOnly(ctx, only));
}

/** Loads the spec, starts the engine, runs `job` until it ends or a signal stops it, closes. */
export async function withPipeline(
  file: string,
  env: ((name: string) => string | undefined) | undefined,
  job: (ctx: PipelineContext, secrets: Set<string>) => Promise<number>,
): Promise<number> {
  const secrets = new Set<string>();
  const log = createLogger({ ...loggerOptionsFromEnv((n) => Deno.env.get(n)), secrets });
  let loaded: LoadedSpec;
  try {
    loaded = await load(file, env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 1;
  }
  const { spec } = loaded;
  log.info("pipeline loaded", {
    spec: file,
    name: spec.name,
    source: spec.source.plugin,
    sink: spec.sink.plugin,
    cache: spec.cache.plugin,
  });
  const stop = new AbortController();
  const health = createHealth();
  const unlisten = stopOnSignals(stop, log, { current: () => health.current?.() });
  let engine: Engine;
  try {
    engine = await startEngine(loaded, {
      log,
      clock: systemClock,
      secrets,
      dataDir: "data",
      onFailure: (kind, e) => noteError(health, kind, e),
    });
  } catch (e) {
    log.error("the pipeline could not start", { error: errorText(e) });
    return 1;
  }
  let code = 1;
  if (!engine.source || !engine.sink || !engine.state) {
    log.error("the pipeline cannot run without its source and sink", {
      unavailable: engine.unavailable,
    });
  } else {
    const ctx: PipelineContext = {
      engine,
      spec,
      log,
      clock: systemClock,
      health,
      signal: stop.signal,
      progress: Deno.stderr.isTerminal() ? terminalProgress(Deno.stderr) : undefined,
      setting: loaded.setting,
    };
    try {
      code = await job(ctx, secrets);
    } catch (e) {
      code = stop.signal.aborted ? 0 : 1;
      if (!stop.signal.aborted) log.error("the pipeline failed", { error: errorText(e) });
    }
  }
  log.info("stopping", {
    reason: stop.signal.aborted ? String((stop.signal.reason as Error).message) : "done",
  });
  await engine.close();
  unlisten();
  log.info("stopped cleanly");
  return code;
}

/**
 * Starts the REST API declared in the spec, if any; `sites` is the health of every pipeline
 * the process runs, when it runs several.
 */
export function serveApi(
  ctx: PipelineContext,
  secrets: Set<string>,
  sites?: Record<string, SiteHealth>,
): Deno.HttpServer | undefined {
  const api = apiOf(ctx.spec);
  if (!api || Object.keys(api.routes).length === 0) return undefined;
  if (api.token) secrets.add(api.token);
  const log = ctx.log.child({ component: "api" });
  const queries = ctx.engine.queries;
  const app = createApi(api, {
    queries,
    // Every route's SQL against the store, before a request is answered (api/route_check.ts).
    routeProblems: queries && checkRoutes(api, queries, log, ctx.signal),
    health: ctx.health,
    sourceHealth: ctx.engine.health.source,
    cacheState: ctx.engine.health.cache,
    sites,
    version: VERSION,
    title: ctx.spec.name,
    freshnessSeconds: freshnessSeconds(ctx.spec),
    log,
  });
  return listen(
    { hostname: api.hostname, port: api.port, setting: ctx.setting },
    app.fetch,
    ({ hostname, port }) =>
      ctx.log.info("REST API listening", {
        url: `http://${hostname}:${port}`,
        routes: Object.keys(api.routes).length,
      }),
  );
}

/** A tag is fresh while it is at most a sync period, the safety lag and a minute behind. */
export function freshnessSeconds(spec: PipelineContext["spec"]): number {
  return Math.round(((spec.sync.interval ?? 60_000) + spec.sync.safety_lag) / 1000 + 60);
}

/** The tags and the range a backfill or verify run covers: the spec's, narrowed by flags. */
export async function selection(
  ctx: PipelineContext,
  only: BackfillOnly,
): Promise<{ tags: TagInfo[]; from: Ticks; to: Ticks }> {
  const { source } = parts(ctx);
  const now = dateFromTicks(await source.serverTime());
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
  const [specFrom, specTo] = backfillRange(ctx.spec, now);
  let tags = await source.discover(ctx.signal);
  if (only.tags) {
    const pattern = compilePattern(only.tags, { ignoreCase: true });
    tags = tags.filter((t) => pattern.test(t.name));
  }
  return { tags, from: time(only.from, specFrom), to: time(only.to, specTo) };
}

async function backfillOnly(ctx: PipelineContext, only: BackfillOnly): Promise<number> {
  const { tags, from, to } = await selection(ctx, only);
  const state = await parts(ctx).state.load();
  const report = await backfill(ctx, tags, from, to, state);
  console.log(JSON.stringify({ ...report, peak_rss_mb: peakRssMb() }));
  return report.failed.length === 0 && !ctx.signal.aborted ? 0 : 1;
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
