/**
 * The Ignition source against a real PostgreSQL holding a realistic SQL Tag Historian database
 * (tests/ignition_fixture.ts): the source contract, discovery across a renamed gateway and tag
 * versions, every row read once with quality normalized, a partition pruned mid-run, and the
 * whole pipeline (pipelines/ignition.yaml) into the embedded ClickHouse with late rows.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { backfill } from "../engine/backfill.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Source } from "../engine/plugin.ts";
import { syncOnce } from "../engine/sync.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { verify } from "../engine/verify.ts";
import ignition from "../plugins/source-ignition/mod.ts";
import { load } from "../cli/_load.ts";
import { startPipeline } from "./_engine.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { startPostgres } from "../simulator/ignition/postgres.ts";
import type { PostgresServer } from "../simulator/ignition/postgres.ts";
import { sourceContract } from "./contracts/source.ts";
import { ignitionDatabase } from "./ignition_fixture.ts";

const START = Date.UTC(2026, 10, 20);
const TICKS = 10_000n;

const database = (pg: PostgresServer) => ignitionDatabase(pg, START);

async function open(url: string, yaml = ""): Promise<Source> {
  const loaded = await load(
    "pipelines/ignition.yaml",
    (n) => ({ IGNITION_DATABASE_URL: url, CLICKHOUSE_URL: "http://unused:8123" })[n],
  );
  const options = {
    ...(loaded.plugins.source.options as object),
    ...(yaml ? JSON.parse(yaml) : {}),
  };
  return await ignition.create(options as never, {
    log: createLogger({ level: "error", format: "json" }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
}

async function readAll(source: Source, tags: TagInfo[], from: number, to: number) {
  const out: Reading[] = [];
  for await (
    const b of source.read(tags, { from: BigInt(from) * TICKS - 1n, to: BigInt(to) * TICKS })
  ) {
    out.push(...b.readings);
  }
  return out;
}

let pg: PostgresServer;

Deno.test({
  name: "Ignition source on PostgreSQL",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    pg = await startPostgres();
    try {
      await t.step("passes the source contract", async (t) => {
        const { url, fixture } = await database(pg);
        await sourceContract(t, async () => {
          const source = await open(url);
          return {
            source,
            window: { from: BigInt(fixture.from) * TICKS, to: BigInt(fixture.to) * TICKS },
            close: () => source.close(),
          };
        });
      });

      await t.step(
        "discovers [provider]path for current tags; a renamed gateway and retired versions are one tag",
        async () => {
          const { url } = await database(pg);
          const source = await open(url);
          try {
            const tags = await source.discover();
            assert.deepEqual(tags.map((t) => [t.name, t.type]), [
              ["[default]site1/line1/press/Speed", "analog"],
              ["[default]site1/line1/press/count", "analog"],
              ["[default]site1/line1/press/recipe", "string"],
              ["[default]site1/line1/press/temperature", "analog"],
            ], "the deleted tag is gone; the path keeps its case");
            const temperature = tags.find((t) => t.name.endsWith("temperature"))!;
            assert.deepEqual((temperature.fields as { ids: number[] }).ids, [1, 2]);
            assert.deepEqual((temperature.fields as { drivers: number[] }).drivers, [1, 2]);
          } finally {
            await source.close();
          }
        },
      );

      await t.step(
        "reads every row once across partitions and drivers, all value columns, quality kept and normalized",
        async () => {
          const { url, fixture } = await database(pg);
          const source = await open(url);
          try {
            const tags = await source.discover();
            const rows = await readAll(source, tags, fixture.from, fixture.to);
            for (const [name, stamps] of fixture.rows) {
              const got = rows.filter((r) => r.tag === name).map((r) => Number(r.time / TICKS));
              assert.deepEqual(got, stamps, name);
            }
            assert.equal(rows.length, [...fixture.rows.values()].flat().length, "nothing else");
            const count = rows.filter((r) => r.tag.endsWith("/count"));
            assert.ok(
              count.every((r) => typeof r.value === "number"),
              "mis-columned ints are read",
            );
            const temp = rows.filter((r) => r.tag.endsWith("/temperature"));
            assert.ok(
              temp.some((r) => r.value === null && r.text === null),
              "NULL rows are gap markers",
            );
            const codes = new Map(temp.map((r) => [r.qualityCode, r.quality]));
            assert.equal(codes.get(192), "good");
            assert.equal(codes.get(1073742080), "uncertain");
            assert.equal(codes.get(-2147483136), "bad");
            assert.equal(codes.get(600), "bad");
            assert.equal(codes.get(0), "bad");
            const recipe = rows.find((r) => r.tag.endsWith("/recipe"))!;
            assert.equal(recipe.text, 'Recipe "0",\ttab');
            const speed = rows.filter((r) => r.tag.endsWith("/Speed"));
            assert.equal(
              speed[0]!.fields?.datatype,
              0,
              "the retired int version's rows, under the tag",
            );
            assert.equal(speed.at(-1)!.fields?.datatype, 1, "then the current float version's");
            assert.deepEqual(speed[0]!.fields, {
              provider: "default",
              tagpath: "site1/line1/press/Speed",
              datatype: 0,
            });
          } finally {
            await source.close();
          }
        },
      );

      await t.step(
        "a pruned partition is skipped, not an error; counts agree with reads",
        async () => {
          const { url, fixture } = await database(pg);
          const source = await open(url);
          try {
            const tags = await source.discover();
            const sql = postgres(url, { onnotice: () => {} });
            const [dropped] = fixture.partitions.find(([n]) => n.startsWith("sqlt_data_2_"))!;
            await sql.unsafe(`DROP TABLE ${dropped}`);
            await sql.end();
            const rows = await readAll(source, tags, fixture.from, fixture.to);
            assert.ok(rows.length > 0 && rows.length < [...fixture.rows.values()].flat().length);
            const counted = await source.count!(tags, {
              from: BigInt(fixture.from) * TICKS - 1n,
              to: BigInt(fixture.to) * TICKS,
            });
            for (const tag of tags) {
              assert.equal(
                counted.get(tag.name) ?? 0,
                rows.filter((r) => r.tag === tag.name).length,
                tag.name,
              );
            }
          } finally {
            await source.close();
          }
        },
      );

      await t.step(
        "pipelines/ignition.yaml: backfill into ClickHouse stores every row once; late rows are synced",
        async () => {
          const { url, fixture } = await database(pg);
          const store = await startTestStore();
          const db = testDatabase();
          const env: Record<string, string> = {
            IGNITION_DATABASE_URL: url,
            CLICKHOUSE_URL: store.url,
            CLICKHOUSE_DB: db,
            BACKFILL_FROM: new Date(fixture.from).toISOString(),
          };
          const loaded = await load("pipelines/ignition.yaml", (n) => env[n]);
          loaded.spec.sync.late_data_every = 1;
          const log = createLogger({ level: "error", format: "json" });
          const { engine, ctx } = await startPipeline(loaded, log);
          try {
            const tags = await engine.source!.discover();
            const state = await engine.state!.load();
            const to = BigInt(fixture.to) * TICKS;
            const report = await backfill(ctx, tags, BigInt(fixture.from) * TICKS, to, state);
            assert.deepEqual(report.failed, []);
            const expected = [...fixture.rows.values()].flat().length;
            assert.equal(report.rows, expected);
            const [{ n }] = await engine.queries!.query<{ n: number }>(
              "SELECT count() AS n FROM IgnitionHistory FINAL",
            ) as [{ n: number }];
            assert.equal(Number(n), expected);
            const [{ raw }] = await engine.queries!.query<{ raw: number }>(
              "SELECT count() AS raw FROM IgnitionHistory",
            ) as [{ raw: number }];
            assert.equal(Number(raw), expected, "no duplicates even before merges");
            const check = await verify(ctx, tags, BigInt(fixture.from) * TICKS, to, 86_400_000);
            assert.equal(check.differ.length, 0, JSON.stringify(check.differ.slice(0, 3)));

            // Store-and-forward: rows arrive late, behind the watermark, with their own t_stamp.
            const sql = postgres(url, { onnotice: () => {} });
            const [last] = fixture.partitions.at(-1)!;
            const lateAt = fixture.to - 30 * 60_000 + 17;
            await sql.unsafe(
              `INSERT INTO ${last} (tagid, floatvalue, dataintegrity, t_stamp) VALUES (2, 99.5, 192, ${lateAt})`,
            );
            await sql.end();
            const sync = await syncOnce(ctx, state);
            assert.ok(sync && sync.failed.length === 0);
            const [late] = await engine.queries!.query<{ v: number }>(
              "SELECT value AS v FROM IgnitionHistory FINAL WHERE t_stamp = fromUnixTimestamp64Milli({t:Int64}, 'UTC')",
              { t: lateAt },
            );
            assert.equal(late?.v, 99.5, "the late row was re-read and stored");
          } finally {
            await engine.close();
            await store.stop();
          }
        },
      );
    } finally {
      await pg.stop();
    }
  },
});
