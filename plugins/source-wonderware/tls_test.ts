/**
 * TLS to SQL Server through npm:mssql, against the simulator negotiating encryption as SQL
 * Server does (PRELOGIN, then TLS inside TDS): the certificate checked against `ca_file`, or
 * accepted with `trust_server_certificate`, refused otherwise; and a server that forces
 * encryption while the spec says `encrypt: false` gets a message that says what to set.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../engine/log.ts";
import { PluginError } from "../../engine/errors.ts";
import { systemClock } from "../../engine/plugin.ts";
import type { Source } from "../../engine/plugin.ts";
import { parseSpec } from "../../engine/spec/load.ts";
import { ConfigError } from "../../engine/errors.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import wonderware from "./mod.ts";
import { startSimulator } from "../../simulator/mod.ts";
import type { Simulator } from "../../simulator/mod.ts";
import { selfSignedCertificate } from "../../simulator/tds/cert.ts";

const PLANT = { analog: 2, discrete: 0, string: 0, historyMs: 3_600_000 };

function options(yaml: string) {
  return parseSpec(
    `version: 1\nsource:\n  wonderware:\n${
      yaml.replace(/^/gm, "    ")
    }\nsink: {clickhouse: {host: ch}}\nbackfill: {from: now-1d}\n`,
    "test.yaml",
    { plugins, sections, env: () => undefined },
  ).plugins.source.options;
}

function open(yaml: string): Promise<Source> {
  return wonderware.create(options(yaml) as never, {
    log: createLogger({ format: "json", write: () => {} }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
}

async function withTls(require: boolean, fn: (sim: Simulator, dir: string) => Promise<void>) {
  // About encryption, not logins: any login is let in.
  const sim = await startSimulator({ plant: PLANT, tls: { require }, allowAnyLogin: true });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, sim.certificate!);
    await fn(sim, dir);
  } finally {
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const failure = (p: Promise<unknown>) =>
  p.then(() => assert.fail("expected the connection to be refused"), (e) => e as PluginError);

Deno.test("encrypt with ca_file: the certificate is verified and every query runs inside TLS", async () => {
  await withTls(true, async (sim, dir) => {
    const source = await open(
      `host: 127.0.0.1\nport: ${sim.port}\nencrypt: true\nca_file: ${dir}/ca.pem`,
    );
    try {
      const tags = await source.discover();
      assert.equal(tags.length, 2);
      const now = await source.serverTime();
      let rows = 0;
      for await (const b of source.read(tags, { from: now - 600_000_000n, to: now })) {
        rows += b.readings.length;
      }
      assert.equal(rows, 120, "60 s × 2 tags at 1 s");
      assert.ok(sim.encryptedConnections() >= 1);
      assert.equal(sim.encryptedConnections(), sim.logins(), "every login went through TLS");
    } finally {
      await source.close();
    }
  });
});

Deno.test("a self-signed certificate is refused without ca_file, with a message naming both remedies; trust_server_certificate accepts it", async () => {
  await withTls(false, async (sim) => {
    const error = await failure(open(`host: 127.0.0.1\nport: ${sim.port}\nencrypt: true`));
    assert.ok(error instanceof PluginError, String(error));
    assert.ok(!error.retriable, "a certificate problem is not fixed by retrying");
    assert.match(error.message, /TLS certificate of 127\.0\.0\.1:\d+\/Runtime was not accepted/);
    assert.match(error.message, /self-signed certificate/);
    assert.match(error.message, /ca_file/);
    assert.match(error.message, /trust_server_certificate: true/);

    const trusted = await open(
      `host: 127.0.0.1\nport: ${sim.port}\nencrypt: true\ntrust_server_certificate: true`,
    );
    assert.equal((await trusted.discover()).length, 2);
    assert.ok(sim.encryptedConnections() >= 1);
    await trusted.close();
  });
});

Deno.test("a CA file of another authority is refused", async () => {
  await withTls(false, async (sim, dir) => {
    await Deno.writeTextFile(`${dir}/other.pem`, selfSignedCertificate().cert);
    const error = await failure(
      open(`host: 127.0.0.1\nport: ${sim.port}\nencrypt: true\nca_file: ${dir}/other.pem`),
    );
    assert.match(error.message, /was not accepted/);
  });
});

Deno.test("a server that forces encryption, and a spec with encrypt: false: the message says what to set", async () => {
  await withTls(true, async (sim) => {
    const error = await failure(open(`host: 127.0.0.1\nport: ${sim.port}\nencrypt: false`));
    assert.ok(error instanceof PluginError, String(error));
    assert.ok(!error.retriable);
    assert.match(
      error.message,
      /127\.0\.0\.1:\d+\/Runtime requires encrypted connections and the source has encrypt: false: set source\.wonderware\.encrypt: true, and source\.wonderware\.ca_file/,
    );
    assert.equal(sim.logins(), 0, "no login is attempted in the clear");
  });
});

Deno.test("a ca_file that does not exist is a spec error, before anything connects", () => {
  assert.throws(
    () => options("host: h\nca_file: /nonexistent/ca.pem"),
    (e: unknown) =>
      e instanceof ConfigError && /source\.wonderware\.ca_file: cannot be read/.test(e.message) &&
      /test\.yaml:\d+:\d+/.test(e.message),
  );
});

Deno.test("encrypt: true against a server without encryption: the message says so", async () => {
  const sim = await startSimulator({ plant: PLANT, allowAnyLogin: true });
  try {
    const error = await failure(open(`host: 127.0.0.1\nport: ${sim.port}\nencrypt: true`));
    assert.ok(error instanceof PluginError && !error.retriable, String(error));
    assert.match(error.message, /does not offer encryption and the source has encrypt: true/);
  } finally {
    await sim.close();
  }
});
