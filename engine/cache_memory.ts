/**
 * The built-in cache: a Map with expiry, for a single engine instance. It is what a spec gets
 * when it names no cache, and the fallback when the configured cache is unavailable.
 * Entries past `max_entries` evict the oldest first (insertion order).
 */
import { z } from "zod";
import { definePlugin } from "./plugin.ts";
import type { Cache, Clock } from "./plugin.ts";

export const memoryCacheOptions = z.strictObject({
  max_entries: z.int().min(1).default(100_000).describe(
    "Entries kept before the oldest are evicted",
  ),
});

export function createMemoryCache(clock: Clock, maxEntries = 100_000): Cache {
  const entries = new Map<string, { value: string; expires: number }>();
  let closed = false;

  function live(key: string) {
    if (closed) throw new Error("Cannot use the memory cache: it is closed");
    const entry = entries.get(key);
    if (entry && entry.expires <= clock.now().getTime()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function put(key: string, value: string, ttlMs?: number) {
    entries.delete(key);
    entries.set(key, { value, expires: ttlMs ? clock.now().getTime() + ttlMs : Infinity });
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  }

  return {
    get: async (key) => live(key)?.value,
    set: async (key, value, ttlMs) => {
      live(key);
      put(key, value, ttlMs);
    },
    async add(key, value, ttlMs) {
      if (live(key)) return false;
      put(key, value, ttlMs);
      return true;
    },
    async delete(key, ifValue) {
      const entry = live(key);
      if (!entry || (ifValue !== undefined && entry.value !== ifValue)) return false;
      return entries.delete(key);
    },
    async close() {
      closed = true;
      entries.clear();
    },
  };
}

export const memoryCache = definePlugin({
  kind: "cache",
  name: "memory",
  description: "Built-in in-process cache (one engine instance only)",
  options: memoryCacheOptions,
  create: (options, context) =>
    Promise.resolve(createMemoryCache(context.clock, options.max_entries)),
});
