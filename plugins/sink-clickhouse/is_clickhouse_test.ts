/**
 * A ClickHouse that is not ClickHouse is refused: an HTTP server that answers 200 to everything,
 * one that looks like ClickHouse but answers no version, and one that acknowledges inserts
 * without storing them. Nothing is reported stored that was not.
 */
import assert from "node:assert/strict";
import { PluginError } from "../../engine/errors.ts";
import { createLogger } from "../../engine/log.ts";
import { systemClock } from "../../engine/plugin.ts";
import type { Sink } from "../../engine/plugin.ts";
import { loadSpec } from "../../engine/spec/load.ts";
import { storageModelOf } from "../../engine/spec/schema.ts";
import { parseTicks } from "../../engine/types.ts";
import { sections } from "../../cli/_load.ts";
import { startTestStore, testDatabase } from "../../tests/_clickhouse.ts";
import { plugins } from "../registry.ts";
import { checkWritten } from "./_is_clickhouse.ts";
import clickhouse from "./mod.ts";

/** The shipped spec's sink, writing to `url`. */
async function openSink(url: string, database = testDatabase()) {
  const env: Record<string, string> = {
    CLICKHOUSE_URL: url,
    CLICKHOUSE_DB: database,
    WONDERWARE_HOST: "unused",
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => env[n],
  });
  const sink: Sink = await clickhouse.create(loaded.plugins.sink.options as never, {
    log: createLogger({ level: "error", format: "json" }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
  return { sink, loaded };
}

/** An HTTP server answering every request with `answer()`. */
function serve(answer: (req: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, answer);
  return { address: `127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

/** Headers a ClickHouse server sends with every answer, and a summary of `written` rows. */
function clickHouseHeaders(written = 0): HeadersInit {
  return {
    "X-ClickHouse-Query-Id": crypto.randomUUID(),
    "X-ClickHouse-Server-Display-Name": "lookalike",
    "X-ClickHouse-Format": "JSON",
    "X-ClickHouse-Summary": JSON.stringify({ read_rows: "0", written_rows: String(written) }),
  };
}

const HINT =
  "is this a ClickHouse HTTP port? (ClickHouse's default HTTP port is 8123; 9000 is the native protocol)";

async function refusal(url: string): Promise<PluginError> {
  const e = await openSink(url).then(
    async ({ sink }) => {
      await sink.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(e instanceof PluginError, `refused: ${e}`);
  assert.equal(e.reason, "protocol");
  assert.equal(e.retriable, false);
  return e;
}

Deno.test('a server that answers 200 "Ok." to everything is refused, named by host:port without credentials', async () => {
  const fake = serve(async (req) => {
    await req.body?.cancel();
    return new Response("Ok.\n");
  });
  try {
    const e = await refusal(`http://writer:s3cr3t-pw@${fake.address}`);
    assert.equal(
      e.message,
      `sink-clickhouse: ${fake.address} answered HTTP 200 without ClickHouse's headers ` +
        "(X-ClickHouse-Query-Id or X-ClickHouse-Server-Display-Name, X-ClickHouse-Summary, " +
        `X-ClickHouse-Format): ${HINT}`,
    );
    assert.ok(!e.message.includes("s3cr3t"));
  } finally {
    await fake.stop();
  }
});

Deno.test("a server with ClickHouse's headers that answers no version is refused", async () => {
  const fake = serve(async (req) => {
    await req.body?.cancel();
    return new Response("Ok.\n", { headers: clickHouseHeaders() });
  });
  try {
    const e = await refusal(`http://${fake.address}`);
    assert.equal(
      e.message,
      `sink-clickhouse: ${fake.address} answered SELECT version() with "Ok.\\n", not a version: ${HINT}`,
    );
  } finally {
    await fake.stop();
  }
});

Deno.test("checkWritten() takes a deduplicated retry and a view's rows; refuses fewer rows or no summary", () => {
  const answer = (written: string | undefined) => ({
    response_headers: written === undefined ? {} : { "x-clickhouse-summary": "{}" },
    summary: written === undefined ? undefined : { written_rows: written },
  });
  // A retry ClickHouse deduplicated still counts the rows it was sent; views add theirs.
  checkWritten("h:1", "inserting 3 rows", answer("3"), 3);
  checkWritten("h:1", "inserting 3 rows", answer("6"), 3);
  assert.throws(
    () => checkWritten("h:1", "inserting 3 rows", answer("0"), 3),
    {
      name: "PluginError",
      message:
        "sink-clickhouse: h:1 acknowledged inserting 3 rows but reports 0 rows written of the 3 sent: they are not all stored",
    },
  );
  assert.throws(
    () => checkWritten("h:1", "inserting 3 rows", answer(undefined), 3),
    {
      name: "PluginError",
      message:
        `sink-clickhouse: h:1 acknowledged inserting 3 rows without X-ClickHouse-Summary, so nothing says it was stored: ${HINT}`,
    },
  );
});

Deno.test({
  name: "a ClickHouse that acknowledges an insert without storing it fails the write, not retried",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    // In front of the store: everything passes, except that inserts are answered as stored
    // (ClickHouse's headers, written_rows 0) and never reach it.
    const proxy = serve(async (req) => {
      const url = new URL(req.url);
      if (/^\s*INSERT/i.test(url.searchParams.get("query") ?? "")) {
        await req.body?.cancel();
        return new Response("", { headers: clickHouseHeaders(0) });
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
      const res = await fetch(new URL(url.pathname + url.search, store.base), {
        method: req.method,
        headers,
        body,
      });
      const out = new Headers(res.headers);
      out.delete("content-encoding");
      return new Response(new Uint8Array(await res.arrayBuffer()), {
        status: res.status,
        headers: out,
      });
    });
    const url = new URL(`http://${proxy.address}`);
    url.username = encodeURIComponent(store.writer.user);
    url.password = encodeURIComponent(store.writer.password);
    const { sink, loaded } = await openSink(url.href);
    try {
      await sink.prepare(storageModelOf(loaded.spec), loaded.spec.name);
      const e = await sink.write({
        readings: [1, 2, 3].map((s) => ({
          tag: "Hamburg.L1.Press01.Temperature",
          time: parseTicks("2026-11-01T00:00:00Z") + BigInt(s) * 10_000_000n,
          value: s,
          text: null,
          quality: "good" as const,
          qualityCode: 0,
          fields: {},
        })),
        fields: {},
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(e instanceof PluginError, `the write failed: ${e}`);
      assert.equal(e.retriable, false);
      assert.equal(e.reason, "protocol");
      assert.match(e.message, /reports 0 rows written of the 3 sent: they are not all stored$/);
    } finally {
      await sink.close();
      await proxy.stop();
      await store.stop();
    }
  },
});

Deno.test("`backfill` against a server that is not ClickHouse exits 1 with the reason", async () => {
  const fake = serve(async (req) => {
    await req.body?.cancel();
    return new Response("Ok.\n");
  });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "backfill", "pipelines/wonderware.yaml"],
      env: {
        LOG_FORMAT: "json",
        WONDERWARE_HOST: "historian.plant.local",
        CLICKHOUSE_URL: `http://${fake.address}`,
      },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1);
    assert.ok(
      stderr.includes(`${fake.address} answered HTTP 200 without ClickHouse's headers`),
      stderr,
    );
  } finally {
    await fake.stop();
  }
});
