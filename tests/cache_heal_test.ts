/**
 * Caches that heal, on a real redis-server: Redis goes away for 10 s and comes back. With
 * `cache.fallback: memory` syncs go on through the memory cache and return to Redis; with
 * `fail` every sync in between fails, and says so in the health. Either way syncs are back on
 * Redis within two schedules of its return.
 */
import assert from "node:assert/strict";
import { backfill } from "../engine/backfill.ts";
import { syncOnce } from "../engine/sync.ts";
import type { PluginDefinition } from "../engine/plugin.ts";
import { parseTicks } from "../engine/types.ts";
import redis from "../plugins/cache-redis/mod.ts";
import { startRedis } from "./_services.ts";
import { fakeRig } from "./fakes/rig.ts";
import type { FakeRig } from "./fakes/rig.ts";
import { createFakeSink } from "./fakes/sink.ts";
import { createFakeSource } from "./fakes/source.ts";

const SECOND = 10_000_000n;
const T0 = parseTicks("2026-11-30T00:00:00Z");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One schedule: the historian's clock moves a minute, then a sync runs. */
async function schedule(rig: FakeRig, source: { now: bigint }) {
  source.now += 60n * SECOND;
  try {
    return await syncOnce(rig.ctx, rig.state);
  } catch (e) {
    return e as Error;
  }
}

async function outage(fallback: "memory" | "fail") {
  const server = await startRedis();
  const source = createFakeSource(["A.Flow", "B.Flow"], T0 - 600n * SECOND, T0, 10n * SECOND);
  const sink = createFakeSink();
  const rig = await fakeRig(
    source,
    sink,
    `cache: {redis: {url: "${server.url}", connect_timeout: 500ms, command_timeout: 500ms}, fallback: ${fallback}}\n` +
      "sync: {safety_lag: 0s, tag_list_ttl: 1s}\n",
    [redis as PluginDefinition],
  );
  let back = server;
  try {
    await backfill(rig.ctx, await source.discover(), T0 - 600n * SECOND, T0, rig.state);
    assert.ok(!((await schedule(rig, source)) instanceof Error));
    assert.equal(rig.engine.health.cache().using, "configured");
    await server.stop();
    const during: (Error | unknown)[] = [];
    const down = Date.now();
    while (Date.now() - down < 10_000) {
      during.push(await schedule(rig, source));
      await sleep(2_000);
    }
    back = await startRedis({ port: server.port });
    const after: unknown[] = [];
    do {
      await sleep(2_500);
      after.push(await schedule(rig, source));
    } while (
      after.length < 2 &&
      (after.at(-1) instanceof Error || rig.engine.health.cache().using !== "configured")
    );
    return { rig, during, after, source, sink };
  } finally {
    await rig.close();
    await back.stop();
  }
}

Deno.test({
  name: "Redis down 10 s with fallback memory: syncs go on through memory, then return to Redis",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { rig, during, after, source, sink } = await outage("memory");
    assert.ok(during.length >= 4);
    assert.ok(during.every((r) => !(r instanceof Error)), "every sync ran during the outage");
    assert.ok(rig.lines.some((l) => l.includes("locks no longer hold across engine instances")));
    assert.ok((rig.ctx.health.errorCounts.get("cache") ?? 0) >= 1, "the outage is counted");
    assert.ok(rig.ctx.health.errors.some((e) => e.kind === "cache"));
    assert.ok(after.length <= 2 && !(after.at(-1) instanceof Error));
    assert.equal(rig.engine.health.cache().using, "configured", "back on Redis");
    assert.ok(rig.lines.some((l) => l.includes("back to the configured cache")));
    assert.equal(sink.rows.size, [...source.points.values()].flat().length, "nothing missed");
  },
});

Deno.test({
  name:
    "Redis down 10 s with fallback fail: each sync in between fails and says so; syncs resume after",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { rig, during, after, source, sink } = await outage("fail");
    assert.ok(during.length >= 4 && during.every((r) => r instanceof Error), "no sync ran");
    assert.ok((rig.ctx.health.errorCounts.get("sync") ?? 0) >= during.length);
    assert.equal(
      rig.ctx.health.errors.filter((e) => e.kind === "sync").length,
      rig.ctx.health.errorCounts.get("sync"),
    );
    assert.ok(after.length <= 2 && !(after.at(-1) instanceof Error), "resumed within two syncs");
    assert.equal(rig.ctx.health.lastSync?.ok, true);
    assert.equal(sink.rows.size, [...source.points.values()].flat().length, "and caught up");
  },
});
