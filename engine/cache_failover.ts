/**
 * A cache that heals. The configured cache (Redis) is used while it answers; when it becomes
 * unavailable — at start or at any time later — the engine follows `cache.fallback`:
 *
 * - `memory`: calls go to the built-in memory cache, with a warning that locks no longer hold
 *   across engine instances; the configured cache is tried again every `probeMs`, and when it
 *   answers the engine goes back to it (and says so);
 * - `fail`: calls fail with the cache's error, so the sync that needed the lock is a failed
 *   sync in the health; the next call tries the configured cache again.
 *
 * Every unavailable call is reported through `onError` (health, metrics).
 */
import { PluginError } from "./errors.ts";
import { errorText } from "./log.ts";
import type { Logger } from "./log.ts";
import type { Cache, Clock } from "./plugin.ts";

export interface FailoverOptions {
  /** Opens the configured cache (again); absent when none is configured. */
  open?(): Promise<Cache>;
  /** The configured cache if it opened at start. */
  primary?: Cache;
  fallback: "memory" | "fail";
  memory: Cache;
  clock: Clock;
  log: Logger;
  probeMs?: number;
  onError?(error: unknown): void;
}

/** Which cache answers now, for the status route. */
export interface CacheState {
  using: "configured" | "memory";
  /** False when no cache is configured: the memory cache is the cache, not a fallback. */
  configured: boolean;
  since: Date;
  lastError?: string;
}

export function createFailoverCache(
  options: FailoverOptions,
): Cache & { state(): CacheState } {
  const { fallback, memory, clock, log } = options;
  const probeMs = options.probeMs ?? 5_000;
  let primary = options.primary;
  let usingMemory = primary === undefined && fallback === "memory";
  let nextProbe = 0;
  const isConfigured = primary !== undefined || options.open !== undefined;
  let state: CacheState = {
    using: usingMemory || !isConfigured ? "memory" : "configured",
    configured: isConfigured,
    since: clock.now(),
  };

  const unavailable = (e: unknown) => e instanceof PluginError && e.unavailable;

  function toMemory(e: unknown) {
    options.onError?.(e);
    nextProbe = clock.now().getTime() + probeMs;
    if (usingMemory) return;
    usingMemory = true;
    state = { using: "memory", configured: true, since: clock.now(), lastError: errorText(e) };
    log.warn(
      "cache unavailable: using the built-in memory cache (cache.fallback: memory); locks no longer hold across engine instances",
      { error: errorText(e) },
    );
  }

  async function configuredCache(): Promise<Cache> {
    if (primary) return primary;
    primary = await options.open!();
    return primary;
  }

  async function call<T>(run: (cache: Cache) => Promise<T>): Promise<T> {
    if (!primary && !options.open) return run(memory);
    if (usingMemory && clock.now().getTime() < nextProbe) return run(memory);
    try {
      const result = await run(await configuredCache());
      if (usingMemory) {
        usingMemory = false;
        state = { using: "configured", configured: true, since: clock.now() };
        log.info("cache available again: back to the configured cache");
      }
      return result;
    } catch (e) {
      if (!unavailable(e)) throw e;
      if (fallback === "fail") {
        options.onError?.(e);
        state = { ...state, lastError: errorText(e) };
        throw e;
      }
      toMemory(e);
      return run(memory);
    }
  }

  return {
    get: (key) => call((c) => c.get(key)),
    set: (key, value, ttlMs) => call((c) => c.set(key, value, ttlMs)),
    add: (key, value, ttlMs) => call((c) => c.add(key, value, ttlMs)),
    delete: (key, ifValue) => call((c) => c.delete(key, ifValue)),
    state: () => state,
    async close() {
      await primary?.close();
      await memory.close();
    },
  };
}
