/**
 * `run a.yaml b.yaml …`: several pipelines (one per site or historian) in one process, into one
 * ClickHouse. Each keeps its own engine (source, sink connection, cache keys, locks, watermarks,
 * schedule, time zone handling); they share the process's stop signal and logger. A site that
 * cannot start, or whose historian goes away, is retried on its own while the others run. Every
 * REST API declared (ports must differ) reports the health of all sites under `health.sites`.
 */
import type { PipelineContext } from "../engine/context.ts";
import { startEngine } from "../engine/engine.ts";
import type { Engine } from "../engine/engine.ts";
import { ConfigError } from "../engine/errors.ts";
import { createHealth, noteError } from "../engine/health.ts";
import type { Health } from "../engine/health.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "../engine/log.ts";
import type { Logger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import { siteOf } from "../engine/spec/schema.ts";
import { backfillThenSync } from "../engine/sync.ts";
import type { SiteHealth } from "../api/app.ts";
import { apiOf } from "../api/spec.ts";
import { load } from "./_load.ts";
import { stopOnSignals } from "./_stop.ts";
import { freshnessSeconds, serveApi } from "./run.ts";

/** How long a site that could not start waits before it tries again. */
const RESTART_MS = 30_000;

interface Site {
  file: string;
  loaded: LoadedSpec;
  name: string;
  health: Health;
  engine?: Engine;
}

/** Loads every spec; refuses duplicate names, sites and API addresses. */
async function loadSites(
  files: string[],
  env?: (name: string) => string | undefined,
): Promise<{ sites: Site[]; problems: string[] }> {
  const problems: string[] = [];
  const sites: Site[] = [];
  for (const file of files) {
    try {
      const loaded = await load(file, env);
      const name = siteOf(loaded.spec);
      sites.push({ file, loaded, name, health: createHealth() });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(e.message);
    }
  }
  const seen = new Map<string, string>();
  for (const s of sites) {
    for (
      const [what, key] of [["name", `name:${s.loaded.spec.name}`], ["site", `site:${s.name}`]]
    ) {
      const other = seen.get(key!);
      if (other) {
        problems.push(
          `${s.file}: the ${what} "${key!.slice(what!.length + 1)}" is also ${other}'s`,
        );
      }
      seen.set(key!, s.file);
    }
    const api = apiOf(s.loaded.spec);
    if (api && Object.keys(api.routes).length > 0) {
      const key = `api:${api.hostname}:${api.port}`;
      const other = seen.get(key);
      if (other) {
        problems.push(
          `${s.file}: api ${api.hostname}:${api.port} is also ${other}'s: give each its own port`,
        );
      }
      seen.set(key, s.file);
    }
  }
  return { sites, problems };
}

export async function runSitesCommand(
  files: string[],
  env?: (name: string) => string | undefined,
  options: { signal?: AbortSignal; log?: Logger } = {},
): Promise<number> {
  const secrets = new Set<string>();
  const root = options.log ??
    createLogger({ ...loggerOptionsFromEnv((n) => Deno.env.get(n)), secrets });
  const { sites: all, problems } = await loadSites(files, env);
  if (problems.length > 0 || all.length === 0) {
    for (const p of problems) console.error(p);
    return 1;
  }
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(options.signal!.reason));
  const unlisten = options.signal ? () => {} : stopOnSignals(stop, root, {
    current: () => all.map((s) => s.health.current?.()).find((p) => p),
  });

  // What the status routes report: every site, its engine as it is now (it may restart).
  const health: Record<string, SiteHealth> = Object.fromEntries(all.map((s) => [
    s.name,
    {
      health: s.health,
      // Before the engine first starts, the source is not reachable yet.
      sourceHealth: () =>
        s.engine?.health.source() ??
          { circuit: "open", consecutiveFailures: 0, lastError: s.health.errors.at(-1)?.message },
      cacheState: () => s.engine?.health.cache(),
      freshnessSeconds: freshnessSeconds(s.loaded.spec),
    } satisfies SiteHealth,
  ]));
  root.info("running several sites in one process", {
    sites: all.map((s) => ({ site: s.name, spec: s.file, source: s.loaded.spec.source.plugin })),
  });
  await Promise.all(
    all.map((s) => superviseSite(s, root.child({ site: s.name }), stop.signal, secrets, health)),
  );
  unlisten();
  root.info("stopped cleanly");
  return 0;
}

/** Runs one site until the stop signal: starts its engine, backfills, syncs; restarts on failure. */
async function superviseSite(
  site: Site,
  log: Logger,
  signal: AbortSignal,
  secrets: Set<string>,
  sites: Record<string, SiteHealth>,
) {
  while (!signal.aborted) {
    try {
      site.engine = await startEngine(site.loaded, {
        log,
        clock: systemClock,
        secrets,
        dataDir: "data",
        onFailure: (kind, e) => noteError(site.health, kind, e),
      });
    } catch (e) {
      noteError(site.health, "source", e);
      log.error("the site could not start; trying again", {
        error: errorText(e),
        retry_in_s: RESTART_MS / 1000,
      });
      await systemClock.sleep(RESTART_MS, signal).catch(() => {});
      continue;
    }
    const engine = site.engine;
    if (!engine.source || !engine.sink || !engine.state) {
      log.error("the site cannot run without its source and sink; trying again", {
        unavailable: engine.unavailable,
        retry_in_s: RESTART_MS / 1000,
      });
      await engine.close();
      await systemClock.sleep(RESTART_MS, signal).catch(() => {});
      continue;
    }
    const ctx: PipelineContext = {
      engine,
      spec: site.loaded.spec,
      log,
      clock: systemClock,
      health: site.health,
      signal,
      setting: site.loaded.setting,
    };
    const server = serveApi(ctx, secrets, sites);
    try {
      await backfillThenSync(ctx);
    } catch (e) {
      if (!signal.aborted) {
        log.error("the site failed; restarting it", {
          error: errorText(e),
          retry_in_s: RESTART_MS / 1000,
        });
      }
    } finally {
      await server?.shutdown();
      await engine.close();
    }
    await systemClock.sleep(RESTART_MS, signal).catch(() => {});
  }
}
