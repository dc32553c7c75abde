/**
 * Backfill and sync end to end: the Historian simulator over TDS → the engine → the embedded
 * ClickHouse over HTTP. Each case checks that the raw table equals the source exactly, that the
 * aggregates equal a recomputation from the raw rows, and that MachineData matches.
 */
import assert from "node:assert/strict";
import type { Engine } from "../engine/engine.ts";
import { createLogger } from "../engine/log.ts";
import { backfill } from "../engine/backfill.ts";
import { syncOnce } from "../engine/sync.ts";
import type { PipelineContext } from "../engine/context.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { parseTicks } from "../engine/types.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import { startSimulator } from "../simulator/mod.ts";
import type { Simulator } from "../simulator/mod.ts";
import { startPipeline } from "./_engine.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { SIM_LOGIN, SIM_LOGIN_ENV, startRedis } from "./_services.ts";
import { startFaultyProxy } from "./_faulty_proxy.ts";
import { assertStoredEqualsSource } from "./_verify.ts";
import type { TestStore } from "./_clickhouse.ts";

const SECOND = 10_000_000n;
const HOUR = 3_600n * SECOND;

interface Rig {
  sim: Simulator;
  db: string;
  engine: Engine;
  ctx: PipelineContext;
  setNow(t: bigint): void;
  close(): Promise<void>;
}

async function rig(
  store: TestStore,
  options: {
    timezone?: string;
    now: bigint;
    lines?: string[];
    share?: Rig;
    redisUrl?: string;
    clickhouseUrl?: string;
  },
): Promise<Rig> {
  let now = options.now;
  const db = options.share?.db ?? testDatabase();
  const sim = options.share?.sim ?? await startSimulator({
    ...SIM_LOGIN,
    timezone: options.timezone ?? "UTC",
    now: () => now,
    plant: {
      analog: 5,
      discrete: 2,
      string: 1,
      analogRateMs: 10_000,
      discreteRateMs: 60_000,
      stringRateMs: 600_000,
      historyMs: 86_400_000,
    },
  });
  const env: Record<string, string> = {
    WONDERWARE_HOST: "127.0.0.1",
    WONDERWARE_PORT: String(sim.port),
    ...SIM_LOGIN_ENV,
    CLICKHOUSE_URL: options.clickhouseUrl ?? store.url,
    CLICKHOUSE_DB: db,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    WONDERWARE_BACKFILL_CHUNK_DAYS: "1",
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => env[n],
  });
  loaded.spec.chunking.window = 2 * 3_600_000; // several units per chunk
  loaded.spec.chunking.tags_per_query = 3;
  loaded.spec.sync.late_data_every = 1; // re-read the late-data window on every sync
  const lines = options.lines ?? [];
  const log = createLogger({ format: "json", level: "warn", write: (l) => lines.push(l) });
  const { engine, ctx } = await startPipeline(loaded, log);
  return {
    sim,
    db,
    engine,
    ctx,
    setNow: options.share?.setNow ?? ((t) => (now = t)),
    async close() {
      await engine.close();
      if (!options.share) await sim.close();
    },
  };
}

Deno.test({
  name: "backfill and sync against the simulator and the embedded ClickHouse",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    const t0 = parseTicks("2026-11-20T00:00:00Z");
    try {
      await t.step(
        "a backfill stores the source exactly; a rerun skips every unit and stores nothing",
        async () => {
          const r = await rig(store, { now: t0 });
          try {
            const tags = await r.engine.source!.discover();
            const from = t0 - 12n * HOUR;
            const state = await r.engine.state!.load();
            const before = Date.now();
            const first = await backfill(r.ctx, tags, from, t0, state);
            assert.equal(first.failed.length, 0);
            assert.ok(
              r.ctx.health.assetsAt && r.ctx.health.assetsAt.getTime() >= before,
              "the health notes when the asset dimension was written (the API's lookups follow)",
            );
            assert.ok(first.units >= 18, `${first.units} units`);
            assert.equal(first.done, first.units);
            await assertStoredEqualsSource(r.engine, from - 1n, t0);
            const again = await backfill(r.ctx, tags, from, t0, await r.engine.state!.load());
            assert.deepEqual([again.skipped, again.done, again.rows], [again.units, 0, 0]);
            const wm = (await r.engine.state!.load()).watermarks;
            assert.equal(wm.size, tags.length);
            assert.ok([...wm.values()].every((w) => w === t0));
          } finally {
            await r.close();
          }
        },
      );

      await t.step(
        "sync follows the clock; late points behind the watermark are captured",
        async () => {
          const r = await rig(store, { now: t0 });
          try {
            const tags = await r.engine.source!.discover();
            const from = t0 - 2n * HOUR;
            const state = await r.engine.state!.load();
            await backfill(r.ctx, tags, from, t0, state);
            r.setNow(t0 + 10n * 60n * SECOND);
            const s1 = await syncOnce(r.ctx, state);
            assert.ok(s1 && s1.failed.length === 0 && s1.rows > 0);
            // Store-and-forward: points stamped 20 minutes ago arrive now.
            const lateAt = t0 - 20n * 60n * SECOND + 5n * SECOND + 1_234n;
            r.sim.late.insert(tags[0]!.name, [{
              t: lateAt,
              value: 4242.5,
              text: null,
              qd: 248,
              opc: 192,
            }]);
            r.setNow(t0 + 11n * 60n * SECOND);
            const s2 = await syncOnce(r.ctx, state);
            assert.ok(s2 && s2.rows >= 1);
            const upper = t0 + 11n * 60n * SECOND - 30n * SECOND;
            await assertStoredEqualsSource(r.engine, from - 1n, upper);
            const [late] = await r.engine.queries!.query<{ v: number }>(
              "SELECT Value AS v FROM WonderwareHistory FINAL WHERE QualityDetail = 248",
            );
            assert.equal(late?.v, 4242.5);
          } finally {
            await r.close();
          }
        },
      );

      await t.step(
        "a Historian on local time with daylight saving: the fold hour is stored once, in UTC",
        async () => {
          const fold = parseTicks("2026-10-25T04:00:00Z");
          const r = await rig(store, { now: fold, timezone: "Europe/Berlin" });
          try {
            const tags = await r.engine.source!.discover();
            const from = fold - 6n * HOUR;
            await backfill(r.ctx, tags, from, fold, await r.engine.state!.load());
            await assertStoredEqualsSource(r.engine, from - 1n, fold);
            const [{ n }] = await r.engine.queries!.query<{ n: number }>(
              `SELECT count() AS n FROM WonderwareHistory FINAL WHERE DateTime >= '2026-10-25 00:00:00' AND DateTime < '2026-10-25 02:00:00'`,
            ) as [{ n: number }];
            assert.equal(
              Number(n),
              5 * 720 + 2 * 120 + 12,
              "two UTC hours: 5 tags at 10 s, 2 at 1 min, 1 at 10 min",
            );
          } finally {
            await r.close();
          }
        },
      );

      await t.step("two syncs at once: one holds the lock, the other skips", async () => {
        const r = await rig(store, { now: t0 });
        try {
          const state = await r.engine.state!.load();
          await backfill(r.ctx, await r.engine.source!.discover(), t0 - HOUR, t0, state);
          r.setNow(t0 + 5n * 60n * SECOND);
          const [a, b] = await Promise.all([syncOnce(r.ctx, state), syncOnce(r.ctx, state)]);
          assert.equal([a, b].filter((x) => x === undefined).length, 1);
        } finally {
          await r.close();
        }
      });

      await t.step(
        "the Historian dropping connections mid-stream and refusing logins for a while: caught up",
        async () => {
          const lines: string[] = [];
          const r = await rig(store, { now: t0, lines });
          try {
            const tags = await r.engine.source!.discover();
            const from = t0 - 4n * HOUR;
            r.sim.faults.dropResults(400, 3);
            r.sim.faults.refuseLogins(1_200);
            const report = await backfill(r.ctx, tags, from, t0, await r.engine.state!.load());
            assert.deepEqual(report.failed, []);
            assert.ok(
              lines.some((l) => l.includes("unit failed; retrying")),
              "failures were retried",
            );
            assert.ok(r.ctx.health.errors.length >= 1, "and reported in the health state");
            r.sim.faults.clear(); // the check below reads the source directly
            await assertStoredEqualsSource(r.engine, from - 1n, t0);
          } finally {
            await r.close();
          }
        },
      );

      await t.step(
        "ClickHouse unreachable for a while during a backfill and a sync: retried, caught up",
        async () => {
          const proxy = startFaultyProxy(store.url);
          const lines: string[] = [];
          const r = await rig(store, { now: t0, lines, clickhouseUrl: proxy.url });
          try {
            const tags = await r.engine.source!.discover();
            const from = t0 - 4n * HOUR;
            const state = await r.engine.state!.load();
            setTimeout(() => proxy.outage(2_000), 150);
            const report = await backfill(r.ctx, tags, from, t0, state);
            assert.deepEqual(report.failed, []);
            r.setNow(t0 + 10n * 60n * SECOND);
            proxy.outage(1_500);
            const sync = await syncOnce(r.ctx, state).catch((e) => e);
            if (sync instanceof Error) await syncOnce(r.ctx, state); // a failed sync is caught up by the next
            assert.ok(proxy.refused() > 0, "the outage happened");
            assert.ok(lines.some((l) => l.includes("retrying")));
            await assertStoredEqualsSource(
              r.engine,
              from - 1n,
              t0 + 10n * 60n * SECOND - 30n * SECOND,
            );
          } finally {
            await r.close();
            await proxy.stop();
          }
        },
      );

      await t.step(
        "two engine instances sharing one Redis: no overlapping backfills or syncs, no duplicates",
        async () => {
          const redis = await startRedis();
          const a = await rig(store, { now: t0, redisUrl: redis.url });
          const b = await rig(store, { now: t0, share: a, redisUrl: redis.url });
          try {
            const tags = await a.engine.source!.discover();
            const [sa, sb] = [await a.engine.state!.load(), await b.engine.state!.load()];
            const from = t0 - 2n * HOUR;
            const [ra, rb] = await Promise.all([
              backfill(a.ctx, tags, from, t0, sa),
              backfill(b.ctx, tags, from, t0, sb),
            ]);
            assert.equal(
              [ra, rb].filter((r) => r.units === 0).length,
              1,
              "one instance backfilled, the other skipped",
            );
            const [fresh] = [await b.engine.state!.load()];
            for (const [tag, wm] of fresh.watermarks) sb.watermarks.set(tag, wm);
            a.setNow(t0 + 5n * 60n * SECOND);
            const [ya, yb] = await Promise.all([syncOnce(a.ctx, sa), syncOnce(b.ctx, sb)]);
            assert.equal(
              [ya, yb].filter((x) => x === undefined).length,
              1,
              "one sync ran, the other saw the lock",
            );
            await assertStoredEqualsSource(
              a.engine,
              from - 1n,
              t0 + 5n * 60n * SECOND - 30n * SECOND,
            );
          } finally {
            await b.close();
            await a.close();
            await redis.stop();
          }
        },
      );
    } finally {
      await store.stop();
    }
  },
});
