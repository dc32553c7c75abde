/**
 * Every way connecting to the Historian's SQL Server fails says where it tried and what to
 * check, naming the settings as the shipped spec reads them (WONDERWARE_HOST, WONDERWARE_PORT,
 * ...), never the password. The failures are real: npm:mssql against a closed port, an unknown
 * host, servers that hang up or stay silent, and the simulator refusing a login or a database.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { PluginError } from "../../engine/errors.ts";
import { systemClock } from "../../engine/plugin.ts";
import { loadSpec } from "../../engine/spec/load.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import wonderware from "./mod.ts";
import { startSimulator } from "../../simulator/mod.ts";
import { freePort } from "../../tests/_services.ts";

const PASSWORD = "pw-Never$hown";
const PLANT = { analog: 1, discrete: 0, string: 0, historyMs: 60_000 };

/** Connects as the shipped spec would with these variables; resolves to the error. */
async function failure(
  env: Record<string, string>,
  options: Record<string, unknown> = {},
): Promise<PluginError> {
  const vars: Record<string, string> = {
    WONDERWARE_USERNAME: "reader",
    WONDERWARE_PASSWORD: PASSWORD,
    CLICKHOUSE_URL: "http://127.0.0.1:8123",
    ...env,
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => vars[n],
  });
  const source = loaded.plugins.source;
  const error = await wonderware.create({ ...source.options as object, ...options } as never, {
    log: createLogger({ format: "json", write: () => {} }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
    setting: (key) => loaded.setting(`source.wonderware.${key}`),
  }).then((s) => s.close().then(() => assert.fail("expected the connection to fail")), (e) => e);
  assert.ok(error instanceof PluginError, String(error));
  assert.ok(!error.message.includes(PASSWORD), error.message);
  return error;
}

Deno.test("a closed port: the address, the refusal, WONDERWARE_HOST and WONDERWARE_PORT", async () => {
  const port = freePort();
  const error = await failure({ WONDERWARE_HOST: "127.0.0.1", WONDERWARE_PORT: String(port) });
  assert.equal(
    error.message,
    `source-wonderware: cannot connect to 127.0.0.1:${port}/Runtime (connect ECONNREFUSED 127.0.0.1:${port}): nothing accepts connections on that port: check WONDERWARE_HOST and WONDERWARE_PORT; SQL Server must accept TCP/IP connections there (a named instance listens on a port of its own: SQL Server Configuration Manager → Protocols → TCP/IP → IP Addresses)`,
  );
  assert.ok(error.retriable && error.unavailable);
  assert.equal(error.reason, "connection");
});

Deno.test("a host name with several addresses (tedious: 'Could not connect (sequence)') says why", async () => {
  const port = freePort();
  const error = await failure({ WONDERWARE_HOST: "localhost", WONDERWARE_PORT: String(port) });
  assert.match(
    error.message,
    new RegExp(
      `^source-wonderware: cannot connect to localhost:${port}/Runtime \\(connect ECONNREFUSED [^)]+\\): nothing accepts connections on that port: check WONDERWARE_HOST and WONDERWARE_PORT;`,
    ),
  );
});

Deno.test("an unknown host: the name is not known, check WONDERWARE_HOST", async () => {
  const error = await failure({ WONDERWARE_HOST: "nonexistent.invalid" });
  assert.equal(
    error.message,
    "source-wonderware: cannot connect to nonexistent.invalid:1433/Runtime (getaddrinfo ENOTFOUND nonexistent.invalid): the host name is not known here: check WONDERWARE_HOST (a name this machine resolves, or an IP address)",
  );
  assert.equal(error.reason, "connection");
});

Deno.test("a port where something else hangs up (socket hang up): check that host and port name the SQL Server", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const error = await failure({ WONDERWARE_HOST: "127.0.0.1", WONDERWARE_PORT: String(port) });
    assert.equal(
      error.message,
      `source-wonderware: cannot connect to 127.0.0.1:${port}/Runtime (Connection lost - socket hang up): the server closed the connection before the login: check that WONDERWARE_HOST and WONDERWARE_PORT name the SQL Server (another service on that port closes the connection like this)`,
    );
    assert.ok(error.retriable);
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a port that never answers: a timeout naming the settings and connect_timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const error = await failure(
      { WONDERWARE_HOST: "127.0.0.1", WONDERWARE_PORT: String(port) },
      { connect_timeout: 500 },
    );
    assert.equal(
      error.message,
      `source-wonderware: cannot connect to 127.0.0.1:${port}/Runtime (Failed to connect to 127.0.0.1:${port} in 500ms): no answer in time: check WONDERWARE_HOST and WONDERWARE_PORT, and that no firewall drops connections to that port; on a slow network raise source.wonderware.connect_timeout`,
    );
    assert.equal(error.reason, "timeout");
    assert.ok(error.retriable);
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("a refused login (18456): the user, WONDERWARE_USERNAME and WONDERWARE_PASSWORD, never the password", async () => {
  const sim = await startSimulator({ plant: PLANT, user: "reader", password: "another" });
  try {
    const error = await failure({
      WONDERWARE_HOST: "127.0.0.1",
      WONDERWARE_PORT: String(sim.port),
    });
    assert.equal(
      error.message,
      `source-wonderware: login to 127.0.0.1:${sim.port}/Runtime as "reader" was refused (Login failed for user 'reader'.): check WONDERWARE_USERNAME and WONDERWARE_PASSWORD; the server must allow SQL Server logins (SQL Server and Windows Authentication mode)`,
    );
    assert.ok(!error.retriable);
    assert.equal(error.reason, "auth");
  } finally {
    await sim.close();
  }
});

Deno.test("a database the login cannot open (4060, then 18456): WONDERWARE_DATABASE", async () => {
  const sim = await startSimulator({ plant: PLANT, user: "reader", password: PASSWORD });
  try {
    const error = await failure({
      WONDERWARE_HOST: "127.0.0.1",
      WONDERWARE_PORT: String(sim.port),
      WONDERWARE_DATABASE: "Nowhere",
    });
    assert.equal(
      error.message,
      `source-wonderware: the database "Nowhere" at 127.0.0.1:${sim.port}/Nowhere cannot be opened by the login "reader" (Cannot open database "Nowhere" requested by the login. The login failed.): check WONDERWARE_DATABASE (the Historian's database is Runtime) and that the login is a user of that database`,
    );
    assert.ok(!error.retriable);
  } finally {
    await sim.close();
  }
});

Deno.test("TLS refusals name WONDERWARE_ENCRYPT, WONDERWARE_CA_FILE and WONDERWARE_TRUST_SERVER_CERTIFICATE", async () => {
  const sim = await startSimulator({ plant: PLANT, tls: { require: true }, allowAnyLogin: true });
  try {
    const env = { WONDERWARE_HOST: "127.0.0.1", WONDERWARE_PORT: String(sim.port) };
    const plain = await failure(env);
    assert.equal(
      plain.message,
      `source-wonderware: 127.0.0.1:${sim.port}/Runtime requires encrypted connections and the source has encrypt: false: set WONDERWARE_ENCRYPT=true, and WONDERWARE_CA_FILE to the server's CA certificate (or WONDERWARE_TRUST_SERVER_CERTIFICATE=true for a self-signed one)`,
    );
    const unchecked = await failure({ ...env, WONDERWARE_ENCRYPT: "true" });
    assert.match(
      unchecked.message,
      /was not accepted \(self-signed certificate\): set WONDERWARE_CA_FILE to the PEM .* or WONDERWARE_TRUST_SERVER_CERTIFICATE=true to skip the check; a name mismatch means WONDERWARE_HOST must be written as the certificate names it$/,
    );
  } finally {
    await sim.close();
  }
});
