/**
 * The status route (health: true) and /health when the store is gone or hung: the health stays
 * in the answer, the totals are marked unavailable, and the answer comes within the route's
 * timeout. Also what the health shows of tags and of a finished backfill. The store is a
 * QueryService of the test's own (down, hung, or answering), so each case runs in milliseconds.
 */
import assert from "node:assert/strict";
import { PluginError } from "../engine/errors.ts";
import { createHealth, noteError } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import type { QueryService } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import { createApi, PING_TIMEOUT_MS } from "./app.ts";
import type { ApiDeps } from "./app.ts";
import { apiOf } from "./spec.ts";

const STATUS = "/consumption/wonderware_status";
const TIMEOUT_MS = 300;

async function statusApi(deps: Partial<ApiDeps>) {
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => ({ WONDERWARE_HOST: "x", CLICKHOUSE_URL: "http://127.0.0.1:1" })[n],
  });
  const api = apiOf(loaded.spec)!;
  const route = { ...api.routes[STATUS]!, timeout: TIMEOUT_MS };
  return createApi({ ...api, routes: { ...api.routes, [STATUS]: route } }, {
    health: createHealth(),
    log: createLogger({ level: "error", format: "json", write: () => {} }),
    freshnessSeconds: 120,
    ...deps,
  });
}

/** A store that accepts every query and never answers (a hung server). */
function hungStore(): QueryService & { release(): void } {
  const waiting: (() => void)[] = [];
  const never = <T>(signal?: AbortSignal) =>
    new Promise<T>((_, reject) => {
      waiting.push(() => reject(new Error("released")));
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  return {
    query: (_sql, _params, options) => never(options?.signal),
    ping: () => never(),
    release: () => waiting.splice(0).forEach((f) => f()),
  } as QueryService & { release(): void };
}

Deno.test("the status route without a store answers 503 with its health and the totals marked unavailable", async () => {
  const health = createHealth();
  noteError(
    health,
    "sink",
    new PluginError("sink-clickhouse", "cannot reach 127.0.0.1:8123: connection refused"),
  );
  const app = await statusApi({ health });
  const r = await app.request(STATUS);
  assert.equal(r.status, 503);
  const body = await r.json();
  assert.equal(body.error, "the store is not available");
  assert.equal(body.totals, "unavailable");
  assert.equal(body.health.sink, "unreachable");
  assert.equal(body.health.sink_error, "the store is not available");
  assert.match(body.health.recent_errors[0].message, /connection refused/);
});

Deno.test("the status route with a hung store answers within its timeout, health included", async () => {
  const store = hungStore();
  const app = await statusApi({ queries: store });
  try {
    const t0 = performance.now();
    const r = await app.request(STATUS);
    const ms = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms < TIMEOUT_MS + 500, `answered after ${Math.round(ms)} ms`);
    const body = await r.json();
    assert.equal(body.totals, "unavailable");
    assert.equal(body.health.sink, "unreachable");
    assert.equal(
      body.health.sink_error,
      `the query took longer than this route's timeout of ${TIMEOUT_MS} ms`,
    );
    assert.ok("lag_seconds" in body.health && "recent_errors" in body.health);
  } finally {
    store.release();
  }
});

Deno.test("the status route with a store that refuses connections names the cause", async () => {
  const down: QueryService = {
    query: () =>
      Promise.reject(
        new PluginError("sink-clickhouse", "cannot reach 127.0.0.1:8123: connection refused", {
          reason: "connection",
          retriable: true,
        }),
      ),
    ping: () => Promise.reject(new Error("connection refused")),
  } as unknown as QueryService;
  const app = await statusApi({ queries: down });
  const r = await app.request(STATUS);
  assert.equal(r.status, 503);
  const body = await r.json();
  assert.equal(body.error, "the store is unavailable");
  assert.equal(
    body.health.sink_error,
    "the store is unavailable: sink-clickhouse: cannot reach 127.0.0.1:8123: connection refused",
  );
});

Deno.test({
  name: "/health with a hung store says unreachable after its ping timeout",
  async fn() {
    const store = hungStore();
    const app = await statusApi({ queries: store });
    try {
      const t0 = performance.now();
      const r = await app.request("/health");
      assert.equal(r.status, 503);
      assert.equal((await r.json()).sink, "unreachable");
      assert.ok(performance.now() - t0 < PING_TIMEOUT_MS + 1_000);
    } finally {
      store.release();
    }
  },
});

Deno.test("the health's freshness leaves out tags the pipeline no longer runs; a finished backfill keeps its rates", async () => {
  const health = createHealth();
  const now = BigInt(Date.now()) * 10_000n;
  health.watermarks = new Map([
    ["Kept.Fresh", now - 10n * 10_000_000n],
    ["Kept.Late", now - 600n * 10_000_000n],
    ["Dropped.ByFilter", now - 86_400n * 10_000_000n],
  ]);
  health.tags = new Set(["Kept.Fresh", "Kept.Late"]);
  health.backfill = {
    units: 4,
    done: 4,
    failed: 0,
    rows: 1_000,
    rowsRead: 3_000,
    alreadyStored: 2_000,
    running: false,
    started: new Date(Date.now() - 3_600_000),
    finished: new Date(Date.now() - 3_540_000),
    seconds: 60,
  };
  const answering = {
    query: () => Promise.resolve([{ tags: 2, points: 1000 }]),
    ping: () => Promise.resolve(),
  } as unknown as QueryService;
  const app = await statusApi({ queries: answering, health });
  const r = await app.request(STATUS);
  assert.equal(r.status, 200);
  const h = (await r.json()).health;
  assert.deepEqual(Object.keys(h.lag_seconds.by_tag), ["Kept.Late", "Kept.Fresh"]);
  assert.equal(h.tags_known, 2);
  assert.equal(h.lag_seconds.within_freshness, 1);
  assert.equal(h.sink, "reachable");
  assert.equal(h.backfill.seconds, 60);
  assert.equal(h.backfill.rowsRead, 3_000);
});

Deno.test("the status route keeps a failed SQL's text out of its answer", async () => {
  const refusing = {
    query: () =>
      Promise.reject(
        new PluginError("sink-clickhouse", "Code: 62. Syntax error: SELECT secret_column FROM", {
          reason: "invalid",
        }),
      ),
    ping: () => Promise.resolve(),
  } as unknown as QueryService;
  const app = await statusApi({ queries: refusing });
  const r = await app.request(STATUS);
  assert.equal(r.status, 500);
  const body = await r.json();
  assert.equal(body.health.sink, "failing");
  assert.equal(body.health.sink_error, "the route's SQL failed");
  assert.ok(!JSON.stringify(body).includes("secret_column"));
});
