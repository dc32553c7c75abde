/**
 * Every way connecting to Ignition's history database fails says where it tried and what to
 * check in IGNITION_DATABASE_URL (the shipped spec's variable), never the password. The
 * failures are real: npm:postgres against a closed port, an unknown host, servers that hang up
 * or stay silent, and a real PostgreSQL refusing a role, a database and TLS.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { PluginError } from "../../engine/errors.ts";
import { systemClock } from "../../engine/plugin.ts";
import { loadSpec } from "../../engine/spec/load.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import ignition from "./mod.ts";
import { startPostgres } from "../../simulator/ignition/postgres.ts";
import { freePort } from "../../tests/_services.ts";

const PASSWORD = "pw-Never$hown";

/** Connects as the shipped spec would with this URL; resolves to the error. */
async function failure(url: string, options: Record<string, unknown> = {}): Promise<PluginError> {
  const vars: Record<string, string> = {
    IGNITION_DATABASE_URL: url,
    CLICKHOUSE_URL: "http://127.0.0.1:8123",
  };
  const loaded = await loadSpec("pipelines/ignition.yaml", {
    plugins,
    sections,
    env: (n) => vars[n],
  });
  const source = loaded.plugins.source;
  const error = await ignition.create({ ...source.options as object, ...options } as never, {
    log: createLogger({ format: "json", write: () => {} }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
    setting: (key) => loaded.setting(`source.ignition.${key}`),
  }).then((s) => s.close().then(() => assert.fail("expected the connection to fail")), (e) => e);
  assert.ok(error instanceof PluginError, String(error));
  assert.ok(!error.message.includes(PASSWORD), error.message);
  return error;
}

Deno.test("a closed port: the address, the refusal, the host and port in IGNITION_DATABASE_URL", async () => {
  const port = freePort();
  const error = await failure(`postgres://reader:${PASSWORD}@127.0.0.1:${port}/ignition`);
  assert.equal(
    error.message,
    `source-ignition: cannot connect to 127.0.0.1:${port}/ignition (connect ECONNREFUSED 127.0.0.1:${port}): nothing accepts connections on that port: check the host and port in IGNITION_DATABASE_URL; PostgreSQL must listen there (listen_addresses and port in postgresql.conf)`,
  );
  assert.ok(error.retriable && error.unavailable);
});

Deno.test("an unknown host: the host in IGNITION_DATABASE_URL", async () => {
  const error = await failure(`postgres://reader:${PASSWORD}@nonexistent.invalid/ignition`);
  assert.equal(
    error.message,
    "source-ignition: cannot connect to nonexistent.invalid:5432/ignition (getaddrinfo ENOTFOUND nonexistent.invalid): the host name is not known here: check the host in IGNITION_DATABASE_URL (a name this machine resolves, or an IP address)",
  );
});

Deno.test("a port that hangs up on every connection: bounded, not a reconnect storm", async () => {
  let accepted = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) accepted++, conn.close();
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const started = Date.now();
    const error = await failure(`postgres://reader:${PASSWORD}@127.0.0.1:${port}/ignition`, {
      connect_timeout: 1_000,
    });
    assert.ok(Date.now() - started < 5_000);
    assert.equal(
      error.message,
      `source-ignition: cannot connect to 127.0.0.1:${port}/ignition: no login completed within 2000 ms (the server closes the connection, or does not answer): check that the host and port in IGNITION_DATABASE_URL name the PostgreSQL server`,
    );
    assert.equal(error.reason, "timeout");
    const after = accepted;
    await new Promise((r) => setTimeout(r, 200));
    // One connection may have been on its way when the source gave up.
    assert.ok(accepted <= after + 1, "no reconnects once the source has given up");
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a port that never answers: a timeout naming IGNITION_DATABASE_URL and connect_timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const error = await failure(`postgres://reader:${PASSWORD}@127.0.0.1:${port}/ignition`, {
      connect_timeout: 1_000,
    });
    assert.equal(
      error.message,
      `source-ignition: cannot connect to 127.0.0.1:${port}/ignition (write CONNECT_TIMEOUT 127.0.0.1:${port}): no answer in time: check the host and port in IGNITION_DATABASE_URL, and that no firewall drops connections to that port; on a slow network raise source.ignition.connect_timeout`,
    );
    assert.equal(error.reason, "timeout");
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a real PostgreSQL refusing a role, a database and TLS: what to change in IGNITION_DATABASE_URL", async (t) => {
  const pg = await startPostgres();
  try {
    const base = new URL(pg.url);
    const at = `127.0.0.1:${pg.port}`;
    await t.step("a role that does not exist", async () => {
      const url = new URL(base);
      url.username = "nobody";
      url.password = PASSWORD;
      const error = await failure(url.href);
      assert.equal(
        error.message,
        `source-ignition: login to ${at}/postgres as "nobody" was refused (role "nobody" does not exist): check the user in IGNITION_DATABASE_URL, and that the server's pg_hba.conf lets it connect from this machine`,
      );
      assert.equal(error.reason, "auth");
      assert.ok(!error.retriable);
    });
    await t.step("a database that does not exist", async () => {
      const url = new URL(base);
      url.pathname = "/nowhere";
      const error = await failure(url.href);
      assert.equal(
        error.message,
        `source-ignition: connecting at ${at}/nowhere failed (database "nowhere" does not exist): check the database in IGNITION_DATABASE_URL (the path after the port: the database Ignition stores its history in)`,
      );
      assert.ok(!error.retriable);
    });
    await t.step("sslmode=require against a server without TLS", async () => {
      const url = new URL(base);
      url.searchParams.set("sslmode", "require");
      const error = await failure(url.href);
      assert.match(
        error.message,
        /^source-ignition: cannot connect to 127\.0\.0\.1:\d+\/postgres \(.*TLS.*\): the server does not offer TLS: remove sslmode from IGNITION_DATABASE_URL, or enable ssl on the server$/,
      );
    });
  } finally {
    await pg.stop();
  }
});
