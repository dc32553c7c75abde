import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { PluginError } from "../../engine/mod.ts";
import { cacheContract } from "../../tests/contracts/cache.ts";
import { freePort, startRedis } from "../../tests/_services.ts";
import { createRedisCache, options } from "./mod.ts";

function context(lines: string[] = [], secrets = new Set<string>()) {
  return { log: createLogger({ format: "json", write: (l) => lines.push(l), secrets }), secrets };
}

Deno.test("redis cache passes the cache contract against a real redis-server", async (t) => {
  const server = await startRedis();
  try {
    await cacheContract(t, () => createRedisCache(options.parse({ url: server.url }), context()));
  } finally {
    await server.stop();
  }
});

Deno.test("redis cache keeps pipelines apart by key prefix", async () => {
  const server = await startRedis();
  try {
    const a = await createRedisCache(
      options.parse({ url: server.url, key_prefix: "a:" }),
      context(),
    );
    const b = await createRedisCache(
      options.parse({ url: server.url, key_prefix: "b:" }),
      context(),
    );
    await a.set("tags", "from a");
    assert.equal(await b.get("tags"), undefined);
    assert.equal(await a.get("tags"), "from a");
    await a.close();
    await b.close();
  } finally {
    await server.stop();
  }
});

Deno.test("redis cache with a password connects and never logs the password", async () => {
  const server = await startRedis({ password: "pw-Very$ecret" });
  const lines: string[] = [];
  const secrets = new Set<string>();
  try {
    const cache = await createRedisCache(
      options.parse({ url: server.url }),
      context(lines, secrets),
    );
    await cache.set("k", "v");
    assert.equal(await cache.get("k"), "v");
    await cache.close();
    assert.ok(secrets.has("pw-Very$ecret"), "the password is registered as a secret");
    assert.ok(lines.length > 0);
    for (const line of lines) assert.ok(!line.includes("Very$ecret"), line);
  } finally {
    await server.stop();
  }
});

Deno.test("redis cache that is down fails fast with an error naming the address", async () => {
  const port = freePort();
  const started = Date.now();
  const error = await createRedisCache(
    options.parse({ url: `redis://:hunter2hunter2@127.0.0.1:${port}`, connect_timeout: "1s" }),
    context(),
  ).then(() => undefined, (e) => e);
  assert.ok(error instanceof PluginError);
  assert.ok(error.unavailable && error.retriable);
  assert.equal(
    error.message,
    `cache-redis: cannot connect to Redis at 127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}): nothing accepts connections on that port: check the host and port in cache.redis.url; leave cache.redis.url empty to use the built-in memory cache`,
  );
  assert.ok(!error.message.includes("hunter2"));
  assert.ok(Date.now() - started < 5_000, "fails within seconds");
});

Deno.test("redis cache whose server goes away reports unavailable on the next command", async () => {
  const server = await startRedis();
  const cache = await createRedisCache(options.parse({ url: server.url }), context());
  await server.stop();
  const error = await cache.get("k").then(() => undefined, (e) => e);
  assert.ok(error instanceof PluginError && error.unavailable);
  assert.match(error.message, new RegExp(`at 127\\.0\\.0\\.1:${server.port} failed`));
  await cache.close();
});

Deno.test("redis cache with an empty URL is unavailable, not an error to retry", async () => {
  const error = await createRedisCache(options.parse({ url: "" }), context()).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof PluginError && error.unavailable && !error.retriable);
  assert.equal(error.message, "cache-redis: not configured: cache.redis.url is empty");
});
