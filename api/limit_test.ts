/** The API's protection of cheap routes: a bounded query pool with a queue, and memoized routes. */
import assert from "node:assert/strict";
import { createHealth } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import type { QueryService } from "../engine/plugin.ts";
import { createApi } from "./app.ts";
import { Busy, createLimiter, createMemo } from "./limit.ts";
import { api } from "./spec.ts";

Deno.test("createLimiter() runs at most `slots` at once, queues `queue` more, refuses the rest", async () => {
  const limiter = createLimiter(2, 1);
  const gates: (() => void)[] = [];
  const job = () => limiter.run(() => new Promise<void>((r) => gates.push(r)));
  const running = [job(), job(), job()];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(limiter.load(), { running: 2, queued: 1 });
  await assert.rejects(job(), Busy);
  while (gates.length) gates.shift()!();
  await new Promise((r) => setTimeout(r, 0));
  while (gates.length) gates.shift()!();
  await Promise.all(running);
  assert.deepEqual(limiter.load(), { running: 0, queued: 0 });
});

Deno.test("createMemo() answers from a fresh result, and from a stale one while refreshing", async () => {
  let now = 0;
  let calls = 0;
  const memo = createMemo<number>(1_000, () => now);
  const compute = () => Promise.resolve(++calls);
  assert.equal(await memo("k", compute), 1);
  assert.equal(await memo("k", compute), 1);
  now = 1_500;
  assert.equal(await memo("k", compute), 1, "stale, answered at once");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(await memo("k", compute), 2, "refreshed in the background");
  assert.equal(calls, 2);
  now = 60_000;
  assert.equal(await memo("k", compute), 3, "after a quiet spell: computed before answering");
});

Deno.test({
  name:
    "ten slow series requests do not starve the status route; past the queue, 503 with Retry-After",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const queries: QueryService = {
      ping: () => Promise.resolve(),
      async query<T>(sql: string) {
        if (sql.includes("heavy")) await slow;
        return [{ n: 1 }] as T[];
      },
    };
    const spec = api.parse({
      max_concurrent_queries: 4,
      max_queued_queries: 6,
      routes: {
        "/heavy": { sql: "SELECT 'heavy' AS n" },
        "/status": { sql: "SELECT 1 AS n", response: "object", memo: "5s" },
      },
    });
    const app = createApi(spec, {
      queries,
      health: createHealth(),
      log: createLogger({ level: "error", format: "json" }),
    });
    assert.equal((await app.request("/status")).status, 200, "first status fills the memo");
    const heavy = Array.from({ length: 10 }, () => app.request("/heavy"));
    await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    const status = await app.request("/status");
    assert.equal(status.status, 200);
    assert.ok(performance.now() - t0 < 50, "answered while the heavy ones wait");
    const refused = await app.request("/heavy");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("Retry-After"), "1");
    assert.match((await refused.json()).error, /busy/);
    release();
    assert.deepEqual((await Promise.all(heavy)).map((r) => r.status), Array(10).fill(200));
  },
});
