/**
 * The REST API, generated from `api.routes` in the spec: a Hono app with one GET route per
 * declaration, plus /health, /openapi.json and /metrics. No code per route: parameters are
 * validated by schemas derived from their declarations and reach ClickHouse only as typed
 * query parameters; responses are shaped as declared.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { cors } from "hono/cors";
import type { Logger } from "../engine/log.ts";
import { errorText, redact } from "../engine/log.ts";
import { PluginError } from "../engine/errors.ts";
import type { CacheState } from "../engine/cache_failover.ts";
import type { Health } from "../engine/health.ts";
import type { PluginHealth, QueryParams, QueryService } from "../engine/plugin.ts";
import { deadline, within } from "./deadline.ts";
import { failureOf } from "./failure.ts";
import { Busy, createLimiter, createMemo } from "./limit.ts";
import type { Limiter } from "./limit.ts";
import { createRequestStats, metricsText, storageView, tableSizes } from "./metrics.ts";
import type { TableSize } from "./metrics.ts";
import { openApi } from "./openapi.ts";
import { mountPage } from "./page/mod.ts";
import { readParams } from "./params.ts";
import type { ParamValue } from "./params.ts";
import type { RouteProblems } from "./route_check.ts";
import type { ApiSpec, RouteSpec } from "./spec.ts";
import { planQueries } from "./plan.ts";
import { createLookup, joinRows, keysFit } from "./lookup.ts";
import type { Found } from "./lookup.ts";

export interface ApiDeps {
  /** The sink's query capability; absent when the store is not available. */
  queries?: QueryService;
  health: Health;
  sourceHealth?: () => PluginHealth;
  /**
   * The routes that cannot run, with the reason, as found by checking their SQL against the
   * store at start (route_check.ts); requests wait for the check.
   */
  routeProblems?: Promise<RouteProblems>;
  /** How far behind a tag may be and still count as fresh (the sync period plus its lag). */
  freshnessSeconds?: number;
  /** The pipeline's name, for the status page. */
  title?: string;
  /** The product's version, for build_info. */
  version?: string;
  /** Which cache answers now (the configured one, or the memory fallback). */
  cacheState?: () => CacheState | undefined;
  /** Every pipeline this process runs, by site, when it runs more than one. */
  sites?: Record<string, SiteHealth>;
  log: Logger;
}

/** What the status route reports of one site's pipeline. */
export type SiteHealth = Pick<
  ApiDeps,
  "health" | "sourceHealth" | "cacheState" | "freshnessSeconds"
>;

/**
 * The engine's health for the status route: last sync, backfill progress, recent errors, the
 * source's circuit, the sink's reachability, and how far each tag's data is behind now.
 */
function healthView(
  deps: SiteHealth & Pick<ApiDeps, "sites">,
  store: StoreState,
  problems: RouteProblems = new Map(),
): Record<string, unknown> {
  const h = deps.health;
  const now = BigInt(Date.now()) * 10_000n;
  // Only the tags the pipeline runs now: one a narrowed filter left behind is not late.
  const lags = [...(h.watermarks ?? new Map<string, bigint>())]
    .filter(([tag]) => !h.tags || h.tags.has(tag))
    .map(([tag, wm]) => [tag, Math.max(0, Number((now - wm) / 10_000_000n))] as const)
    .sort((a, b) => b[1] - a[1]);
  return {
    last_sync: h.lastSync,
    backfill: h.backfill,
    sync_rows: h.syncRows ?? 0,
    recent_errors: h.errors.slice(-10),
    source: deps.sourceHealth?.() ?? null,
    cache: deps.cacheState?.() ?? null,
    sink: store.state,
    ...(store.error && { sink_error: store.error }),
    ...(problems.size > 0 && { routes_failing: Object.fromEntries(problems) }),
    // Readings stored per minute over the last hour: [minute start (epoch ms), rows].
    throughput: [...h.throughput].sort((a, b) => a[0] - b[0]),
    tags_known: lags.length,
    freshness_seconds: deps.freshnessSeconds ?? null,
    lag_seconds: {
      max: lags[0]?.[1] ?? null,
      within_freshness: deps.freshnessSeconds === undefined
        ? null
        : lags.filter(([, lag]) => lag <= deps.freshnessSeconds!).length,
      // The 100 tags furthest behind.
      by_tag: Object.fromEntries(lags.slice(0, 100)),
    },
    ...(deps.sites && {
      sites: Object.fromEntries(
        Object.entries(deps.sites).map(([site, s]) => [site, healthView(s, store)]),
      ),
    }),
  };
}

/** How the store answered a health route's totals: what the page shows on its Store card. */
interface StoreState {
  state: "reachable" | "unreachable" | "busy" | "failing";
  /** What went wrong, in words: the answer's error and the cause under it. */
  error?: string;
}

/** A store that could not be reached (down, cut off, overloaded): the cause can be told. */
function unreachable(e: unknown): boolean {
  return e instanceof PluginError &&
    (e.unavailable || e.reason === "connection" || e.reason === "backpressure");
}

/** How long /health waits for the store's ping before calling it unreachable. */
export const PING_TIMEOUT_MS = 5_000;

export function createApi(spec: ApiSpec, deps: ApiDeps): Hono {
  const app = new Hono();
  const stats = createRequestStats();
  const note = stats.note;
  // Rows and bytes on disk per table, for /metrics and the status route.
  const sizes = tableSizes(deps.queries);

  if (spec.cors.length > 0) app.use("*", cors({ origin: spec.cors, allowMethods: ["GET"] }));

  mountPage(app, spec, deps.title ?? "pipeline");

  const problems = deps.routeProblems ?? Promise.resolve(new Map<string, string>());
  app.get("/health", async (c) => {
    // A hung store must not hang the health check: past the timeout it is unreachable.
    const { signal, clear } = deadline(PING_TIMEOUT_MS, c.req.raw.signal);
    const sinkOk = deps.queries
      ? await within(deps.queries.ping(), signal).then(() => true, () => false).finally(clear)
      : (clear(), false);
    const source = deps.sourceHealth?.();
    const failing = await problems;
    const ok = sinkOk && source?.circuit !== "open" && failing.size === 0;
    return c.json({
      status: ok ? "ok" : "degraded",
      sink: sinkOk ? "reachable" : "unreachable",
      source,
      ...(failing.size > 0 && { routes_failing: Object.fromEntries(failing) }),
    }, ok ? 200 : 503);
  });

  if (spec.token) {
    const expected = new TextEncoder().encode(`Bearer ${spec.token}`);
    app.use("*", async (c, next) => {
      const given = new TextEncoder().encode(c.req.header("Authorization") ?? "");
      let same = given.length === expected.length;
      for (let i = 0; i < expected.length; i++) same = same && given[i] === expected[i];
      if (!same) return c.json({ error: "missing or wrong bearer token" }, 401);
      await next();
    });
  }

  app.get("/openapi.json", (c) => c.json(openApi(spec)));

  app.get("/metrics", async (c) => {
    return c.text(metricsText(deps.health, stats, deps.version, await sizes() ?? []), 200, {
      "Content-Type": "text/plain; version=0.0.4",
    });
  });

  const limiter = createLimiter(spec.max_concurrent_queries, spec.max_queued_queries);
  for (const [path, route] of Object.entries(spec.routes)) {
    app.get(path, routeHandler(path, route, deps, note, limiter, problems, sizes));
  }
  // Any other method on a known path: 405 with the methods that are allowed.
  for (const path of [...Object.keys(spec.routes), "/health", "/metrics", "/openapi.json"]) {
    app.all(path, (c) =>
      c.json(
        { error: `method ${c.req.method} is not allowed on ${path}; use GET` },
        405,
        { Allow: "GET, HEAD" },
      ));
  }

  app.notFound((c) =>
    c.json({
      error: `no route ${c.req.method} ${new URL(c.req.url).pathname}`,
      routes: Object.keys(spec.routes),
    }, 404)
  );
  app.onError((e, c) => {
    deps.log.error("API failure", { error: errorText(e) });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

/** When each pipeline last wrote its asset dimension: a lookup read before is read again. */
function assetsVersion(deps: ApiDeps): string {
  const healths = [deps.health, ...Object.values(deps.sites ?? {}).map((s) => s.health)];
  return healths.map((h) => h.assetsAt?.getTime() ?? 0).join(",");
}

/** The handler of one declared route: typed parameters in, the declared shape out. */
function routeHandler(
  path: string,
  route: RouteSpec,
  deps: ApiDeps,
  note: (route: string, status: number, seconds: number) => void,
  limiter: Limiter,
  problems: Promise<RouteProblems>,
  sizes: () => Promise<TableSize[] | undefined>,
) {
  const memo = route.memo ? createMemo<Record<string, unknown>[]>(route.memo) : undefined;
  const rawTags = route.variants?.fit?.raw_tags;
  const rawTagsMemo = rawTags ? createMemo<ReadonlySet<string>>(rawTags.memo) : undefined;
  const lookup = route.lookup ? createLookup(route.lookup) : undefined;
  const columns = route.columns ? Object.keys(route.columns) : undefined;
  const limits = {
    timeoutMs: route.timeout,
    maxRows: route.max_rows,
    maxBytes: route.max_bytes,
    maxMemory: route.max_memory,
  };

  /**
   * The body of a request's answer (undefined: no rows). Queries whose answer is shared between
   * requests (memo, lookup, raw_tags) run without the request's signal, so one client going does
   * not cancel another's answer; the store's own time limit bounds them.
   */
  async function answer(
    queries: QueryService,
    parsed: Record<string, ParamValue | undefined>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const shared = (sql: string, params: QueryParams = {}) =>
      limiter.run(() => queries.query<Record<string, unknown>>(sql, params, limits));
    // The tags read raw at every level (fit.raw_tags), looked up at most once per memo period.
    const rawTagsLookup = (sql: string) =>
      rawTagsMemo!("", async () => {
        const rows = await shared(sql);
        return new Set(rows.map((r) => String(Object.values(r)[0])));
      });
    // The lookup's keys this request keeps, sent as a parameter, or the lookup inside the SQL.
    let values = parsed;
    let found: Found | undefined;
    let inline = false;
    if (lookup) {
      const { found: all, keys } = await lookup.keysFor(values, shared, assetsVersion(deps));
      if (keys.length === 0) return undefined;
      found = all;
      inline = !keysFit(keys);
      if (!inline) values = { ...values, [route.lookup!.param]: keys };
    }
    let parts = await planQueries(route, values, rawTagsLookup);
    if (inline) parts = parts.map((p) => ({ ...p, sql: lookup!.inlined(p.sql) }));
    const answers = await Promise.all(parts.map(({ sql, values }) => {
      const params: QueryParams = {};
      for (const [name, v] of Object.entries(values)) params[name] = v ?? null;
      if (memo) return memo(JSON.stringify(params), () => shared(sql, params));
      return limiter.run(
        () => queries.query<Record<string, unknown>>(sql, params, { ...limits, signal }),
        signal,
      );
    }));
    const rows = answers.length === 1
      ? answers[0]!
      : answers.flat().sort((a, b) =>
        String(a.target) < String(b.target) ? -1 : String(a.target) > String(b.target) ? 1 : 0
      );
    if (route.response === "object") {
      const body = { ...(rows[0] ?? {}) };
      if (!route.health) return body;
      const health = healthView(deps, { state: "reachable" }, await problems);
      const tables = await sizes();
      return { ...body, health, ...(tables && { storage: storageView(tables) }) };
    }
    if (route.response === "series") {
      return rows.map((r) => ({ target: r.target, datapoints: r.datapoints }));
    }
    return found ? joinRows(rows, found, route.lookup!.key, columns) : rows;
  }

  return async (c: Context) => {
    const started = performance.now();
    const respond = (
      body: unknown,
      status: 200 | 400 | 422 | 500 | 502 | 503 | 504,
      headers: Record<string, string> = {},
    ) => {
      note(path, status, (performance.now() - started) / 1000);
      return c.json(body, status, headers);
    };
    /**
     * A failed answer. A health route keeps its health (the page's whole point when the store
     * is down): the totals are marked unavailable and the store's state says why.
     */
    const failed = async (
      body: { error: string },
      status: 500 | 502 | 503 | 504 | 422,
      store: StoreState["state"],
      cause?: unknown,
      headers: Record<string, string> = {},
    ) => {
      if (!route.health) return respond(body, status, headers);
      // Why the store cannot be reached is the operator's first question; a refusal or a
      // failed SQL stays in the log (failure.ts), where its text belongs.
      const detail = unreachable(cause) ? redact(errorText(cause)) : "";
      const error = detail && !body.error.includes(detail)
        ? `${body.error}: ${detail}`
        : body.error;
      const health = healthView(deps, { state: store, error }, await problems);
      return respond({ ...body, totals: "unavailable", health }, status, headers);
    };
    const parsed = readParams(route.params, c.req.queries() ?? {});
    if ("issues" in parsed) {
      return respond({ error: "invalid parameters", issues: parsed.issues }, 400);
    }
    if (!deps.queries) {
      return failed({ error: "the store is not available" }, 503, "unreachable");
    }
    const problem = (await problems).get(path);
    if (problem) return failed({ error: `this route cannot run: ${problem}` }, 503, "failing");
    const { signal, clear } = deadline(route.timeout, c.req.raw.signal);
    try {
      const body = await within(answer(deps.queries, parsed.values, signal), signal);
      return respond(body ?? [], 200, { "Cache-Control": route.cache_control });
    } catch (e) {
      if (e instanceof Busy) {
        return failed({ error: e.message }, 503, "busy", undefined, {
          "Retry-After": String(e.retryAfterSeconds),
        });
      }
      const { status, error } = failureOf(e, path, route, deps.log);
      return failed(
        { error },
        status,
        status === 504 || unreachable(e) ? "unreachable" : "failing",
        e,
      );
    } finally {
      clear();
    }
  };
}
