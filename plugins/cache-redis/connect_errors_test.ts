/**
 * Every way connecting to Redis fails says where it tried and what to check in REDIS_URL (the
 * shipped spec's variable), never the password. The failures are real: npm:ioredis against a
 * closed port, an unknown host, servers that hang up or stay silent, and a redis-server that
 * wants another password, a password at all, or no TLS.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { PluginError } from "../../engine/errors.ts";
import { loadSpec } from "../../engine/spec/load.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import { createRedisCache } from "./mod.ts";
import { freePort, startRedis } from "../../tests/_services.ts";

const PASSWORD = "pw-Never$hown";
const FALLBACK = "; leave REDIS_URL empty to use the built-in memory cache";

/** Connects as the shipped spec would with this REDIS_URL; resolves to the error. */
async function failure(url: string): Promise<PluginError> {
  const vars: Record<string, string> = {
    WONDERWARE_HOST: "h",
    CLICKHOUSE_URL: "http://127.0.0.1:8123",
    REDIS_URL: url,
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => vars[n],
  });
  const options = loaded.plugins.cache.options as Parameters<typeof createRedisCache>[0];
  const error = await createRedisCache(
    { ...options, connect_timeout: 500, command_timeout: 1000 },
    {
      log: createLogger({ format: "json", write: () => {} }),
      secrets: new Set(),
      setting: (key) => loaded.setting(`cache.redis.${key}`),
    },
  ).then((c) => c.close().then(() => assert.fail("expected the connection to fail")), (e) => e);
  assert.ok(error instanceof PluginError, String(error));
  assert.ok(error.unavailable, "the engine may fall back to the memory cache");
  assert.ok(!error.message.includes(PASSWORD), error.message);
  return error;
}

Deno.test("a closed port: the address, the refusal, the host and port in REDIS_URL", async () => {
  const port = freePort();
  const error = await failure(`redis://:${PASSWORD}@127.0.0.1:${port}`);
  assert.equal(
    error.message,
    `cache-redis: cannot connect to Redis at 127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port}): nothing accepts connections on that port: check the host and port in REDIS_URL${FALLBACK}`,
  );
  assert.ok(error.retriable);
});

Deno.test("an unknown host: the host in REDIS_URL", async () => {
  const error = await failure("redis://nonexistent.invalid:6379");
  assert.equal(
    error.message,
    `cache-redis: cannot connect to Redis at nonexistent.invalid:6379 (getaddrinfo ENOTFOUND nonexistent.invalid): the host name is not known here: check the host in REDIS_URL (a name this machine resolves, or an IP address)${FALLBACK}`,
  );
});

Deno.test("a port that hangs up: check that REDIS_URL names a Redis server", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const error = await failure(`redis://127.0.0.1:${port}`);
    assert.match(
      error.message,
      new RegExp(
        `^cache-redis: cannot connect to Redis at 127\\.0\\.0\\.1:${port} \\([^)]+\\): the server closed the connection: check that the host and port in REDIS_URL name a Redis server \\(rediss:// for one that requires TLS\\)`,
      ),
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a port that never answers: a timeout naming REDIS_URL", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const error = await failure(`redis://127.0.0.1:${port}`);
    assert.match(
      error.message,
      /: no answer in time: check the host and port in REDIS_URL, that no firewall drops connections to that port, and the scheme: redis:\/\/ for a server without TLS/,
    );
    assert.equal(error.reason, "timeout");
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a real redis-server: a wrong password, none, and rediss:// where it has no TLS", async (t) => {
  const server = await startRedis({ password: "the-right-one" });
  try {
    const at = `127.0.0.1:${server.port}`;
    await t.step("a wrong password", async () => {
      const error = await failure(`redis://:${PASSWORD}@${at}`);
      assert.match(
        error.message,
        new RegExp(
          `^cache-redis: cannot connect to Redis at ${at} \\(WRONGPASS [^)]*\\): the login was refused: check the user and password in REDIS_URL;`,
        ),
      );
      assert.equal(error.reason, "auth");
      assert.ok(!error.retriable);
    });
    await t.step("no password", async () => {
      const error = await failure(`redis://${at}`);
      assert.match(
        error.message,
        /\(NOAUTH .*\): the server requires a password: put it in REDIS_URL \(redis:\/\/:password@host:6379, or redis:\/\/user:password@host:6379\)/,
      );
    });
    await t.step("rediss:// to a server without TLS", async () => {
      const error = await failure(`rediss://:${PASSWORD}@${at}`);
      assert.match(error.message, /redis:\/\/ for a server without TLS/);
    });
  } finally {
    await server.stop();
  }
});
