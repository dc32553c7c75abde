/**
 * A lock in the cache: Redis makes it hold across engine instances, the memory cache within
 * one. Held with a token and a TTL that a keep-alive renews, so a crashed holder frees it.
 */
import type { Cache } from "./plugin.ts";

const TTL_MS = 120_000;

/** Runs `fn` holding `key`; undefined (and `fn` not run) when someone else holds it. */
export async function withLock<T>(
  cache: Cache,
  key: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const token = crypto.randomUUID();
  if (!(await cache.add(key, token, TTL_MS))) return undefined;
  const keepAlive = setInterval(() => cache.set(key, token, TTL_MS).catch(() => {}), TTL_MS / 3);
  try {
    return await fn();
  } finally {
    clearInterval(keepAlive);
    await cache.delete(key, token).catch(() => {});
  }
}
