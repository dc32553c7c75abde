/**
 * Exactly once for the Ignition source too, end to end on a real PostgreSQL and the embedded
 * ClickHouse: a backfill killed with SIGKILL at random moments and resumed, and a backfill
 * through an outage of the database (stopped as a crash would, started again seconds later).
 */
import { backfill } from "../engine/backfill.ts";
import { createLogger } from "../engine/log.ts";
import { startEngine } from "../engine/engine.ts";
import { systemClock } from "../engine/plugin.ts";
import { load } from "../cli/_load.ts";
import assert from "node:assert/strict";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { startPipeline } from "./_engine.ts";
import { killTrials } from "./_kill.ts";
import { startPostgres } from "../simulator/ignition/postgres.ts";
import { ignitionDatabase } from "./ignition_fixture.ts";
import { assertIgnitionStored } from "./_verify.ts";

const START = Date.UTC(2026, 10, 20);
const TICKS = 10_000n;

/** pipelines/ignition.yaml with small units, so a kill lands between many commits. */
async function smallUnits(dir: string): Promise<string> {
  const spec = (await Deno.readTextFile("pipelines/ignition.yaml"))
    .replace("window: ${IGNITION_BACKFILL_CHUNK_DAYS:-1}d", "window: 1h\n  batch_rows: 500")
    .replace("tags_per_query: ${IGNITION_TAG_CHUNK_SIZE:-100}", "tags_per_query: 2")
    .replace("parallelism: 4", "parallelism: 2");
  await Deno.writeTextFile(`${dir}/ignition.yaml`, spec);
  return `${dir}/ignition.yaml`;
}

Deno.test({
  name:
    "Ignition: a backfill killed with SIGKILL at random points and resumed stores every row once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pg = await startPostgres();
    const store = await startTestStore();
    const dir = await Deno.makeTempDir({ prefix: "ignition-kill-" });
    try {
      const { url, fixture } = await ignitionDatabase(pg, START, 2);
      const spec = await smallUnits(dir);
      await killTrials(t, {
        spec,
        trials: 4,
        from: new Date(fixture.from - 1).toISOString(),
        to: new Date(fixture.to).toISOString(),
        env: () => ({
          IGNITION_DATABASE_URL: url,
          CLICKHOUSE_URL: store.url,
          CLICKHOUSE_DB: testDatabase(),
        }),
        async check(env) {
          const engine = await startEngine(await load(spec, (n) => env[n]), {
            log: createLogger({ level: "error", format: "json" }),
            clock: systemClock,
            secrets: new Set(),
            dataDir: dir,
          });
          try {
            await assertIgnitionStored(
              engine,
              BigInt(fixture.from - 1) * TICKS,
              BigInt(fixture.to) * TICKS,
            );
          } finally {
            await engine.close();
          }
        },
      });
    } finally {
      await store.stop();
      await pg.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "Ignition: PostgreSQL down for 3 s in the middle of a backfill: it resumes and stores every row once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pg = await startPostgres();
    const store = await startTestStore();
    const dir = await Deno.makeTempDir({ prefix: "ignition-outage-" });
    try {
      const { url, fixture } = await ignitionDatabase(pg, START, 2);
      const env: Record<string, string> = {
        IGNITION_DATABASE_URL: url,
        CLICKHOUSE_URL: store.url,
        CLICKHOUSE_DB: testDatabase(),
      };
      const loaded = await load(await smallUnits(dir), (n) => env[n]);
      const { engine, ctx } = await startPipeline(
        loaded,
        createLogger({ level: "error", format: "json" }),
      );
      try {
        const tags = await engine.source!.discover();
        const state = await engine.state!.load();
        const from = BigInt(fixture.from - 1) * TICKS, to = BigInt(fixture.to) * TICKS;
        let outage: Promise<void> | undefined;
        const started = Date.now();
        const timer = setTimeout(() => (outage = pg.outage(3_000)), 400);
        const report = await backfill(ctx, tags, from, to, state);
        clearTimeout(timer);
        await outage;
        assert.ok(outage, "the outage happened during the backfill");
        assert.ok(Date.now() - started > 3_000, "the backfill waited the outage out");
        assert.deepEqual(report.failed, []);
        await assertIgnitionStored(engine, from, to);
      } finally {
        await engine.close();
      }
    } finally {
      await store.stop();
      await pg.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
