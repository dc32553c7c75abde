/**
 * Redis as the engine's cache: shared tag lists and the sync lock between several engine
 * instances. Keys are prefixed so several pipelines can share one Redis.
 *
 * Connection failures are fast and explicit: no offline queue and a bounded connect timeout, so
 * a Redis that is down becomes a PluginError naming the address (never the password) instead of
 * a hang. At start a Redis that does not answer is given up quickly (the engine then follows
 * `cache.fallback`); once connected, the client reconnects with backoff for as long as it takes,
 * so an outage of any length heals by itself.
 */
import { z } from "zod";
import { definePlugin, duration, PluginError } from "../../engine/mod.ts";
import type { Cache, PluginContext } from "../../engine/mod.ts";
import { connectError, PLUGIN } from "./_errors.ts";

export const options = z.strictObject({
  url: z.string().describe(
    'Redis URL, e.g. "redis://:password@cache:6379/0" or "rediss://..." for TLS; empty means not configured',
  ),
  key_prefix: z.string().default("historian-sync:").describe("Prepended to every key"),
  connect_timeout: duration().prefault("2s").describe("How long to wait for a connection"),
  command_timeout: duration().prefault("5s").describe("How long to wait for one command"),
});

// Deletes KEYS[1] only while it holds ARGV[1], atomically: releasing a lock someone else now holds
// must not delete it.
const DELETE_IF =
  `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`;

export async function createRedisCache(
  opts: z.output<typeof options>,
  context: Pick<PluginContext, "log" | "secrets" | "setting">,
): Promise<Cache> {
  const url = context.setting?.("url") ?? "cache.redis.url";
  if (opts.url.trim() === "") {
    throw new PluginError(PLUGIN, `not configured: ${url} is empty`, {
      unavailable: true,
      reason: "not_configured",
    });
  }
  let parsed: URL;
  try {
    parsed = new URL(opts.url);
  } catch {
    throw new PluginError(PLUGIN, `${url} is not a valid URL`);
  }
  if (parsed.password) context.secrets.add(decodeURIComponent(parsed.password));
  const address = `${parsed.hostname}:${parsed.port || 6379}`;

  let connected = false;
  // Loaded only when a Redis is configured: a process without one does not carry the client.
  const { Redis } = await import("ioredis");
  const redis = new Redis(opts.url, {
    lazyConnect: true,
    connectTimeout: opts.connect_timeout,
    commandTimeout: opts.command_timeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) =>
      connected ? Math.min(times * 250, 2_000) : times > 3 ? null : Math.min(times * 200, 1000),
    keyPrefix: opts.key_prefix,
  });
  // Socket errors are surfaced through the failing command; keep the last one, which says
  // more ("connect ECONNREFUSED") than the command's own "Connection is closed".
  let socketError: Error | undefined;
  redis.on("error", (e: Error) => (socketError = e));
  redis.on("ready", () => (socketError = undefined));

  const fail = (what: string, e: unknown) =>
    new PluginError(
      PLUGIN,
      `${what} at ${address} failed: ${(socketError ?? e as Error).message}`,
      {
        cause: socketError ?? e,
        retriable: true,
        unavailable: true,
      },
    );

  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw connectError(socketError ?? e as Error, address, url);
  }
  connected = true;
  context.log.info("connected to Redis", { address, key_prefix: opts.key_prefix });

  async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw fail(what, e);
    }
  }

  return {
    get: (key) => call("GET", async () => (await redis.get(key)) ?? undefined),
    set: (key, value, ttlMs) =>
      call("SET", async () => {
        if (ttlMs) await redis.set(key, value, "PX", ttlMs);
        else await redis.set(key, value);
      }),
    add: (key, value, ttlMs) =>
      call("SET NX", async () => {
        const reply = ttlMs
          ? await redis.set(key, value, "PX", ttlMs, "NX")
          : await redis.set(key, value, "NX");
        return reply === "OK";
      }),
    delete: (key, ifValue) =>
      call("DEL", async () => {
        const n = ifValue === undefined
          ? await redis.del(key)
          : await redis.eval(DELETE_IF, 1, key, ifValue);
        return Number(n) > 0;
      }),
    async close() {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}

export default definePlugin({
  kind: "cache",
  name: "redis",
  description: "Redis cache, shared by several engine instances (npm:ioredis)",
  options,
  create: createRedisCache,
});
