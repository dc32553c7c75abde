/**
 * Starting and stopping a pipeline's plugins. Plugins start in dependency order (cache, sink,
 * source) and close in reverse. A plugin that reports itself unavailable (not configured or
 * not reachable) is handled by the section's declared policy, never by its name: the cache
 * falls back to the built-in memory cache when `cache.fallback` says so.
 *
 * The source and the sink the engine hands on are guarded (guard.ts): every call goes through
 * one breaker and one retry budget per plugin, so the stages never retry a call themselves.
 */
import { createFailoverCache } from "./cache_failover.ts";
import type { CacheState } from "./cache_failover.ts";
import { createMemoryCache } from "./cache_memory.ts";
import { PluginError } from "./errors.ts";
import { createGuard, guardSink, guardSource, policyOf } from "./guard.ts";
import type { Guarded } from "./guard.ts";
import { errorText } from "./log.ts";
import type { Logger } from "./log.ts";
import type {
  Cache,
  Clock,
  PluginContext,
  PluginHealth,
  PluginKind,
  PluginKinds,
  QueryService,
  Sink,
  Source,
  StateStore,
} from "./plugin.ts";
import type { LoadedSpec } from "./spec/load.ts";
import { storageModelOf } from "./spec/schema.ts";

export interface EngineOptions {
  log: Logger;
  clock: Clock;
  secrets: Set<string>;
  dataDir: string;
  /** Every failed plugin call, retried or not (health, metrics). */
  onFailure?: (kind: "source" | "sink" | "cache", error: unknown) => void;
}

/** A running pipeline: its plugins, and what could not be started. */
export interface Engine {
  cache: Cache;
  source?: Source;
  sink?: Sink;
  /** The sink's pipeline state (required to run). */
  state?: StateStore;
  /** The sink's query capability (required by API routes). */
  queries?: QueryService;
  /** The breakers' view of the source and the sink; which cache answers. */
  health: { source(): PluginHealth; sink(): PluginHealth; cache(): CacheState };
  /** Why a plugin is not running, per kind. */
  unavailable: Partial<Record<PluginKind, string>>;
  signal: AbortSignal;
  /** Aborts running work and closes every plugin in reverse start order. Idempotent. */
  close(): Promise<void>;
}

export async function startEngine(loaded: LoadedSpec, options: EngineOptions): Promise<Engine> {
  const { log, clock, secrets, dataDir } = options;
  const stop = new AbortController();
  const r = loaded.spec.retry;
  const guards: Record<"source" | "sink", Guarded> = {
    source: guardFor("source"),
    sink: guardFor("sink"),
  };
  function guardFor(kind: "source" | "sink") {
    return createGuard(kind, `${kind}-${loaded.plugins[kind].definition.name}`, {
      policy: policyOf(r),
      clock,
      signal: stop.signal,
      log,
      onFailure: options.onFailure,
    });
  }
  const opened: { kind: PluginKind; close(): Promise<void> }[] = [];
  const unavailable: Engine["unavailable"] = {};

  async function create<K extends PluginKind>(kind: K): Promise<PluginKinds[K]> {
    const { definition, options: pluginOptions } = loaded.plugins[kind];
    const context: PluginContext = {
      log: log.child({ plugin: `${kind}-${definition.name}` }),
      signal: stop.signal,
      clock,
      secrets,
      dataDir: `${dataDir}/${kind}-${definition.name}`,
      setting: (key) => loaded.setting(`${kind}.${definition.name}.${key}`),
      spec: loaded.file,
    };
    const plugin = await definition.create(pluginOptions, context);
    opened.push({ kind, close: () => plugin.close() });
    return plugin;
  }

  async function tryCreate<K extends PluginKind>(kind: K): Promise<PluginKinds[K] | undefined> {
    try {
      return await create(kind);
    } catch (e) {
      if (!(e instanceof PluginError && e.unavailable)) throw e;
      unavailable[kind] = errorText(e);
      return undefined;
    }
  }

  /** The configured cache behind the failover of cache_failover.ts. */
  async function openCache() {
    const { definition, options: cacheOptions } = loaded.plugins.cache;
    const context: PluginContext = {
      log: log.child({ plugin: `cache-${definition.name}` }),
      signal: stop.signal,
      clock,
      secrets,
      dataDir: `${dataDir}/cache-${definition.name}`,
      setting: (key) => loaded.setting(`cache.${definition.name}.${key}`),
    };
    const open = () => definition.create(cacheOptions, context);
    let primary;
    let notConfigured = false;
    try {
      primary = await open();
    } catch (e) {
      if (!(e instanceof PluginError && e.unavailable)) throw e;
      unavailable.cache = errorText(e);
      notConfigured = e.reason === "not_configured";
      if (loaded.spec.cache.fallback === "fail") {
        throw new PluginError(
          `cache-${loaded.spec.cache.plugin}`,
          `unavailable and cache.fallback is "fail": ${unavailable.cache}`,
        );
      }
      log.warn("cache unavailable; using the built-in memory cache (cache.fallback: memory)", {
        reason: unavailable.cache,
      });
    }
    // A cache that is not configured at all is not an outage: nothing to try again.
    const configured = !(unavailable.cache && notConfigured);
    return createFailoverCache({
      open: configured ? open : undefined,
      primary,
      fallback: loaded.spec.cache.fallback,
      memory: createMemoryCache(clock),
      clock,
      log,
      onError: (e) => options.onFailure?.("cache", e),
    });
  }

  const close = once(async () => {
    stop.abort(new Error("the engine is shutting down"));
    for (const plugin of opened.reverse()) {
      try {
        await within(
          plugin.close(),
          CLOSE_MS,
          () =>
            log.warn(
              `the ${plugin.kind} did not close within ${CLOSE_MS / 1000} s; not waiting for it`,
            ),
        );
      } catch (e) {
        log.warn(`closing the ${plugin.kind} failed`, { error: e });
      }
    }
  });

  try {
    const cache = await openCache();
    opened.push({ kind: "cache", close: () => cache.close() });
    const rawSink = await tryCreate("sink");
    const sink = rawSink && guardSink(rawSink, guards.sink);
    if (sink) {
      await sink.prepare(storageModelOf(loaded.spec), loaded.spec.name);
    }
    const rawSource = await tryCreate("source");
    const source = rawSource && guardSource(rawSource, guards.source);
    for (const kind of ["sink", "source"] as const) {
      if (unavailable[kind]) log.warn(`${kind} unavailable`, { reason: unavailable[kind] });
    }
    return {
      cache,
      sink,
      source,
      state: sink?.state,
      queries: sink?.queries,
      health: {
        source: () => guards.source.health(),
        sink: () => guards.sink.health(),
        cache: () => cache.state(),
      },
      unavailable,
      signal: stop.signal,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * How long a plugin's close is waited for. A source whose read was cancelled may hold its
 * connection until the server acknowledges the cancel (a SQL Server busy with the query);
 * stopping must not wait for that.
 */
export const CLOSE_MS = 2_000;

/**
 * Waits for `p` at most `ms` of real time (a close is I/O, whatever clock the engine runs on);
 * past that calls `late` and returns, leaving `p` to settle.
 */
async function within(p: Promise<void>, ms: number, late: () => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  try {
    if (await Promise.race([p.then(() => false), expired])) {
      p.catch(() => {});
      late();
    }
  } finally {
    clearTimeout(timer);
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
