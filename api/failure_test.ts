/**
 * How the API answers a failed query: by the reason the plugin gives, never by its message text
 * (every fake error here says the same thing); its deadline, the client going away, and routes
 * the store refuses at start. All with app.request() and a fake query capability.
 */
import assert from "node:assert/strict";
import { PluginError } from "../engine/errors.ts";
import type { ErrorReason } from "../engine/errors.ts";
import { createHealth } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import type { QueryOptions, QueryService } from "../engine/plugin.ts";
import { createApi } from "./app.ts";
import type { ApiDeps } from "./app.ts";
import { checkRoutes } from "./route_check.ts";
import { api } from "./spec.ts";

const SAME_TEXT = "Code: 159. DB::Exception: Timeout exceeded: TOO_MANY_ROWS max_result_rows";

/** An app over `queries`, with one route (options as a spec gives them), and what it logs. */
function appWith(queries: QueryService, route: Record<string, unknown> = {}, deps = {}) {
  const logged: Record<string, unknown>[] = [];
  const spec = api.parse({
    max_concurrent_queries: 1,
    routes: {
      "/r": { sql: "SELECT 1 AS n", ...route },
      "/status": { sql: "SELECT 1 AS n", response: "object", health: true },
    },
  });
  const app = createApi(spec, {
    queries,
    health: createHealth(),
    log: createLogger({ format: "json", write: (line) => logged.push(JSON.parse(line)) }),
    ...deps,
  } as ApiDeps);
  return { app, logged };
}

function failing(reason: ErrorReason, options: { unavailable?: boolean } = {}): QueryService {
  return {
    ping: () => Promise.resolve(),
    query: () => Promise.reject(new PluginError("fake", SAME_TEXT, { reason, ...options })),
  };
}

/** A query that answers only when its signal aborts (as the sink's does), noting the signal. */
function hanging(seen: AbortSignal[] = []): QueryService {
  return {
    ping: () => Promise.resolve(),
    query: (_sql: string, _params?: unknown, options: QueryOptions = {}) =>
      new Promise((_, reject) => {
        seen.push(options.signal!);
        options.signal?.addEventListener(
          "abort",
          () => reject(new PluginError("fake", "cancelled", { reason: "timeout" })),
        );
      }),
  };
}

const cases: [ErrorReason, { unavailable?: boolean }, number, RegExp][] = [
  ["timeout", {}, 504, /^the query took longer than this route's timeout of 10000 ms$/],
  ["too_big", {}, 422, /cap of 100000 rows or 64MB; narrow the query$/],
  ["memory", {}, 422, /more memory than this route's cap of 1GB; narrow the query$/],
  ["connection", { unavailable: true }, 503, /^the store is unavailable$/],
  ["backpressure", {}, 503, /^the store is unavailable$/],
  ["auth", {}, 503, /^the store refused the query/],
  ["permission", {}, 503, /^the store refused the query/],
  ["protocol", {}, 502, /^the store answered, but not as it should$/],
  ["invalid", {}, 500, /^the route's SQL failed$/],
  ["other", {}, 500, /^the query failed$/],
];

for (const [reason, options, status, error] of cases) {
  Deno.test(`a query failing with reason "${reason}" is answered ${status}`, async () => {
    const { app, logged } = appWith(failing(reason, options));
    const res = await app.request("/r");
    assert.equal(res.status, status);
    const body = await res.json();
    assert.match(body.error, error);
    assert.ok(!body.error.includes("DB::Exception"), "the store's text stays in the log");
    if (status === 500 || reason === "auth" || reason === "permission") {
      const line = logged.find((l) => l.level === "error");
      assert.equal(line?.reason, reason, "logged with the reason");
      assert.match(String(line?.error), /DB::Exception/, "and the store's words");
    }
  });
}

Deno.test("a route's caps are named as the spec gives them", async () => {
  const big = appWith(failing("too_big"), { max_rows: 500, max_bytes: "2MB" });
  assert.equal(
    (await (await big.app.request("/r")).json()).error,
    "the result is larger than this route's cap of 500 rows or 2MB; narrow the query",
  );
  const memory = appWith(failing("memory"), { max_memory: "256MB" });
  assert.equal(
    (await (await memory.app.request("/r")).json()).error,
    "the query needs more memory than this route's cap of 256MB; narrow the query",
  );
});

Deno.test("every query gets the route's limits and a signal", async () => {
  let given: QueryOptions | undefined;
  const { app } = appWith({
    ping: () => Promise.resolve(),
    query<T>(_sql: string, _params?: unknown, options?: QueryOptions) {
      given = options;
      return Promise.resolve([] as T[]);
    },
  }, { timeout: "3s", max_rows: 10, max_bytes: "8MB", max_memory: "512MB" });
  assert.equal((await app.request("/r")).status, 200);
  assert.deepEqual({ ...given, signal: undefined }, {
    timeoutMs: 3_000,
    maxRows: 10,
    maxBytes: 8 * 1024 ** 2,
    maxMemory: 512 * 1024 ** 2,
    signal: undefined,
  });
  assert.ok(given?.signal instanceof AbortSignal);
});

Deno.test("the route's timeout holds: 504 at the deadline, and the query is cancelled", async () => {
  const seen: AbortSignal[] = [];
  const { app } = appWith(hanging(seen), { timeout: "300ms" });
  const t0 = performance.now();
  const res = await app.request("/r");
  const ms = performance.now() - t0;
  assert.equal(res.status, 504);
  assert.match((await res.json()).error, /timeout of 300 ms/);
  assert.ok(ms >= 290 && ms < 1_000, `answered after ${Math.round(ms)} ms`);
  assert.equal(seen[0]?.aborted, true, "the store's query was cancelled");
});

Deno.test("504 at the deadline even when the query ignores its signal", async () => {
  let release!: () => void;
  const late = new Promise<void>((r) => release = r);
  const { app } = appWith({
    ping: () => Promise.resolve(),
    query: async <T>() => {
      await late;
      return [] as T[];
    },
  }, { timeout: "200ms" });
  const t0 = performance.now();
  assert.equal((await app.request("/r")).status, 504);
  assert.ok(performance.now() - t0 < 1_000);
  release();
});

Deno.test("a client that goes away cancels its query at once", async () => {
  const seen: AbortSignal[] = [];
  const { app } = appWith(hanging(seen), { timeout: "10s" });
  const client = new AbortController();
  const t0 = performance.now();
  const answered = app.request(new Request("http://api/r", { signal: client.signal }));
  await new Promise((r) => setTimeout(r, 50));
  client.abort();
  const res = await answered;
  assert.equal(res.status, 504);
  assert.ok(performance.now() - t0 < 1_000, "not at the 10 s deadline");
  assert.equal(seen[0]?.aborted, true, "the store's query was cancelled");
});

Deno.test("waiting for a query slot counts toward the deadline", async () => {
  const seen: AbortSignal[] = [];
  const spec = api.parse({
    max_concurrent_queries: 1,
    routes: {
      "/slow": { sql: "SELECT 1 AS n", timeout: "1s" },
      "/r": { sql: "SELECT 1 AS n", timeout: "300ms" },
    },
  });
  const app = createApi(spec, {
    queries: hanging(seen),
    health: createHealth(),
    log: createLogger({ level: "error", format: "json", write: () => {} }),
  });
  // One slot: /slow holds it until its own deadline, /r waits behind it.
  const slow = app.request("/slow");
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const res = await app.request("/r");
  const ms = performance.now() - t0;
  assert.equal(res.status, 504);
  assert.ok(ms >= 290 && ms < 800, `answered at its own deadline (${Math.round(ms)} ms)`);
  assert.equal(seen.length, 1, "it never reached the store");
  assert.equal((await slow).status, 504);
  assert.equal(seen.length, 1, "and left the queue: nothing ran after the slot was free");
});

Deno.test("a route the store refuses at start answers 503 with the reason, in health too", async () => {
  const problems = checkRoutes(
    api.parse({ routes: { "/r": { sql: "SELECT nope" }, "/status": { sql: "SELECT 1" } } }),
    {
      ping: () => Promise.resolve(),
      query<T>(sql: string) {
        if (sql === "EXPLAIN SELECT nope") {
          return Promise.reject(
            new PluginError("fake", "Unknown expression identifier `nope`", { reason: "invalid" }),
          );
        }
        return Promise.resolve([] as T[]);
      },
    },
    createLogger({ level: "error", format: "json", write: () => {} }),
  );
  let routeQueries = 0;
  const { app } = appWith(
    {
      ping: () => Promise.resolve(),
      query<T>() {
        routeQueries++;
        return Promise.resolve([{ n: 1 }] as T[]);
      },
    },
    {},
    { routeProblems: problems },
  );
  const res = await app.request("/r");
  assert.equal(res.status, 503);
  assert.equal(
    (await res.json()).error,
    "this route cannot run: the store refuses its sql: fake: Unknown expression identifier `nope`",
  );
  assert.equal(routeQueries, 0, "not sent to the store");
  const health = await app.request("/health");
  assert.equal(health.status, 503);
  const body = await health.json();
  assert.equal(body.status, "degraded");
  assert.match(body.routes_failing["/r"], /Unknown expression identifier/);
  const status = await (await app.request("/status")).json();
  assert.match(status.health.routes_failing["/r"], /Unknown expression identifier/);
});

Deno.test("a store that cannot be asked at start marks no route as broken", async () => {
  const problems = await checkRoutes(
    api.parse({ routes: { "/r": { sql: "SELECT 1" } } }),
    failing("connection", { unavailable: true }),
    createLogger({ level: "error", format: "json", write: () => {} }),
  );
  assert.equal(problems.size, 0);
});
