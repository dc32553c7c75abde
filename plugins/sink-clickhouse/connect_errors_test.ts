/**
 * A ClickHouse that cannot be reached, or that refuses the login, is reported with what to
 * check, named by the variables the shipped spec reads (CLICKHOUSE_URL, …), never a password.
 * Real failures: a closed port, an unknown host, a server that hangs up, a wrong password.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { systemClock } from "../../engine/plugin.ts";
import { startTestStore } from "../../tests/_clickhouse.ts";
import clickhouse from "./mod.ts";

const NAMES: Record<string, string> = {
  url: "CLICKHOUSE_URL",
  host: "CLICKHOUSE_HOST",
  port: "CLICKHOUSE_PORT",
  user: "CLICKHOUSE_USER",
  password: "CLICKHOUSE_PASSWORD",
  database: "CLICKHOUSE_DB",
};

async function failure(options: Record<string, unknown>): Promise<string> {
  try {
    const sink = await clickhouse.create(
      clickhouse.options.parse({ request_timeout: "3s", ...options }),
      {
        log: createLogger({ level: "error", format: "json" }),
        signal: new AbortController().signal,
        clock: systemClock,
        secrets: new Set(),
        dataDir: "/nonexistent",
        setting: (key) => NAMES[key] ?? `sink.clickhouse.${key}`,
      },
    );
    await sink.close();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail("the sink connected");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("a closed port names CLICKHOUSE_URL and ClickHouse's HTTP port", async () => {
  const message = await failure({ url: `http://127.0.0.1:${freePort()}` });
  assert.match(
    message,
    /nothing accepts connections on that port: check CLICKHOUSE_URL \(or CLICKHOUSE_HOST and CLICKHOUSE_PORT\); 8123 is ClickHouse's HTTP port/,
  );
});

Deno.test("an unknown host says the name is not known and where it is set", async () => {
  const message = await failure({ url: "http://nonexistent.invalid:8123" });
  assert.match(message, /the host name is not known here: check the host in CLICKHOUSE_URL/);
});

Deno.test("a server that hangs up says to check the port and the scheme", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    const message = await failure({ url: `http://127.0.0.1:${port}` });
    assert.match(
      message,
      /the server closed the connection: check that CLICKHOUSE_URL names ClickHouse's HTTP port/,
    );
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a refused login names CLICKHOUSE_USER and CLICKHOUSE_PASSWORD, never the password", async () => {
  const store = await startTestStore();
  try {
    const message = await failure({ url: store.base, user: "default", password: "not-it-4417" });
    assert.match(message, /the login was refused: check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD/);
    assert.ok(!message.includes("not-it-4417"));
  } finally {
    await store.stop();
  }
});
