/**
 * Many sites, one ClickHouse (pipelines/sites/): two Historian sites whose tags have the same
 * names share the tables, and each stores exactly its own source (tag identity is site and tag);
 * and the shipped example, a Wonderware site and an Ignition site in one process, reports per
 * site and keeps one site syncing while the other's database is down.
 */
import assert from "node:assert/strict";
import { backfill } from "../engine/backfill.ts";
import { createLogger } from "../engine/log.ts";
import type { Engine } from "../engine/engine.ts";
import { formatTicks, parseTicks } from "../engine/types.ts";
import type { Reading } from "../engine/types.ts";
import { verify } from "../engine/verify.ts";
import { load } from "../cli/_load.ts";
import { runSitesCommand } from "../cli/sites.ts";
import { startSimulator } from "../simulator/mod.ts";
import { startPostgres } from "../simulator/ignition/postgres.ts";
import { writeIgnitionDemo } from "../simulator/ignition/demo.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { startPipeline } from "./_engine.ts";
import { freePort, SIM_LOGIN, SIM_LOGIN_ENV } from "./_services.ts";

const NOW = parseTicks("2026-11-20T12:00:00Z");
const FROM = parseTicks("2026-11-20T06:00:00Z");
const HAMBURG = "pipelines/sites/hamburg.yaml";
const CHICAGO = "pipelines/sites/chicago.yaml";

/** hamburg.yaml as another Wonderware site: its own name and site, no API. */
async function siteSpec(dir: string, site: string): Promise<string> {
  const text = (await Deno.readTextFile(HAMBURG))
    .replace("name: hamburg\nsite: hamburg", `name: ${site}\nsite: ${site}`)
    .replace(/\napi:[\s\S]*$/, "\n");
  await Deno.writeTextFile(`${dir}/${site}.yaml`, text);
  return `${dir}/${site}.yaml`;
}

async function sourceRows(engine: Engine): Promise<Reading[]> {
  const out: Reading[] = [];
  const tags = await engine.source!.discover();
  // A backfill from FROM includes a point at FROM itself.
  for await (const b of engine.source!.read(tags, { from: FROM - 1n, to: NOW })) {
    out.push(...b.readings);
  }
  return out;
}

Deno.test({
  name: "two sites with the same tag names share the tables; each stores exactly its own source",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const plant = { analog: 4, discrete: 1, string: 1, historyMs: 86_400_000 };
    const sims = await Promise.all(
      [1, 2].map((seed) =>
        startSimulator({ ...SIM_LOGIN, now: () => NOW, plant: { ...plant, seed } })
      ),
    );
    const store = await startTestStore();
    const dir = await Deno.makeTempDir({ prefix: "sites-" });
    const db = testDatabase();
    const log = createLogger({ level: "error", format: "json" });
    const pipelines = [];
    try {
      for (const [i, site] of ["hamburg", "bremen"].entries()) {
        const env: Record<string, string> = {
          WONDERWARE_HOST: "127.0.0.1",
          WONDERWARE_PORT: String(sims[i]!.port),
          ...SIM_LOGIN_ENV,
          CLICKHOUSE_URL: store.url,
          CLICKHOUSE_DB: db,
        };
        pipelines.push(
          await startPipeline(await load(await siteSpec(dir, site), (n) => env[n]), log),
        );
      }
      const [a, b] = pipelines as [typeof pipelines[0], typeof pipelines[0]];
      // Interleaved: the second site's units run while the first's rows are already stored.
      const reports = await Promise.all(
        pipelines.map(async ({ engine, ctx }) =>
          backfill(ctx, await engine.source!.discover(), FROM, NOW, await engine.state!.load())
        ),
      );
      for (const r of reports) assert.deepEqual(r.failed, []);

      const q = a.engine.queries!;
      for (const [site, { engine }] of [["hamburg", a], ["bremen", b]] as const) {
        const expected = await sourceRows(engine);
        const stored = await q.query<
          { tag: string; t: string; value: number | null; text: string | null }
        >(
          `SELECT tag, toString(intDiv(toUnixTimestamp64Nano(time), 100)) AS t, value, text
           FROM readings FINAL WHERE site = {site:String}`,
          { site },
        );
        const [{ n }] = await q.query<{ n: number }>(
          "SELECT count() AS n FROM readings WHERE site = {site:String}",
          { site },
        ) as [{ n: number }];
        assert.equal(
          Number(n),
          expected.length,
          `${site}: as many rows as its source, no duplicates`,
        );
        const got = new Map(stored.map((s) => [`${s.tag}@${s.t}`, s]));
        for (const e of expected) {
          const s = got.get(`${e.tag}@${e.time}`);
          assert.ok(s, `${site}: missing ${e.tag} at ${formatTicks(e.time)}`);
          assert.deepEqual([s.value, s.text], [e.value, e.text], `${site}: ${e.tag}`);
        }
      }
      const [{ differ }] = await q.query<{ differ: number }>(
        `SELECT countIf(a.value != b.value) AS differ FROM (SELECT tag, time, value FROM readings FINAL WHERE site = 'hamburg') AS a
         INNER JOIN (SELECT tag, time, value FROM readings FINAL WHERE site = 'bremen') AS b USING (tag, time)`,
      ) as [{ differ: number }];
      assert.ok(
        Number(differ) > 0,
        "the sites' values differ for the same tag and time: nothing was shared",
      );

      const agg = await q.query(
        "SELECT site, tag, minute, avg_value, min_value, max_value, count FROM readings_1m FINAL ORDER BY site, tag, minute",
      );
      const recomputed = await q.query(
        `SELECT site, tag, toStartOfMinute(time) AS minute,
           if(count(value) = 0, NULL, arraySum(arraySort(groupArray(value))) / count(value)) AS avg_value,
           min(value) AS min_value, max(value) AS max_value, count() AS count
         FROM readings FINAL GROUP BY site, tag, minute ORDER BY site, tag, minute`,
      );
      assert.deepEqual(agg, recomputed, "per site, the aggregates equal a recomputation from raw");

      const assets = await q.query<{ source: string; n: number }>(
        "SELECT source, count() AS n FROM site_assets FINAL GROUP BY source ORDER BY source",
      );
      const tagCount = (await a.engine.source!.discover()).length;
      assert.deepEqual(assets.map((r) => [r.source, Number(r.n)]), [["bremen", tagCount], [
        "hamburg",
        tagCount,
      ]], "one dimension row per site and tag");

      // Rows lost at one site are found missing there, and only there; a repair restores them.
      const tags = await a.engine.source!.discover();
      const victim = tags.find((t) => t.type === "analog")!.name;
      await q.query(
        "ALTER TABLE readings DELETE WHERE site = 'hamburg' AND tag = {tag:String} SETTINGS mutations_sync = 1",
        { tag: victim },
      );
      const checkA = await verify(a.ctx, tags, FROM, NOW, 86_400_000);
      assert.deepEqual([...new Set(checkA.differ.map((d) => d.tag))], [victim]);
      const checkB = await verify(b.ctx, await b.engine.source!.discover(), FROM, NOW, 86_400_000);
      assert.equal(checkB.differ.length, 0, "the other site's rows of the same tag are intact");
    } finally {
      for (const p of pipelines) await p.engine.close();
      for (const s of sims) await s.close();
      await store.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the sites example: Wonderware and Ignition in one process, status per site, one site's outage does not stop the other",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sim = await startSimulator({
      ...SIM_LOGIN,
      timezone: "Europe/Berlin",
      plant: { analog: 6, discrete: 1, string: 1, analogRateMs: 10_000, historyMs: 7_200_000 },
    });
    const pg = await startPostgres();
    const ignition = await writeIgnitionDemo({ url: pg.url, historyMs: 7_200_000, rateMs: 5_000 });
    const store = await startTestStore();
    const dir = await Deno.makeTempDir({ prefix: "sites-example-" });
    const port = freePort();
    const stop = new AbortController();
    let run: Promise<number> | undefined;
    try {
      // The shipped specs, syncing every 2 s instead of every minute.
      const files = [];
      for (const spec of [HAMBURG, CHICAGO]) {
        const text = (await Deno.readTextFile(spec)).replace(
          'schedule: "* * * * *"',
          "interval: 2s\n  safety_lag: 1s",
        );
        files.push(`${dir}/${spec.split("/").at(-1)}`);
        await Deno.writeTextFile(files.at(-1)!, text);
      }
      const env: Record<string, string> = {
        WONDERWARE_HOST: "127.0.0.1",
        WONDERWARE_PORT: String(sim.port),
        ...SIM_LOGIN_ENV,
        IGNITION_DATABASE_URL: pg.url,
        CLICKHOUSE_URL: store.url,
        CLICKHOUSE_DB: testDatabase(),
        BACKFILL_FROM: "now-2h",
        API_PORT: String(port),
      };
      run = runSitesCommand(files, (n) => env[n], {
        signal: stop.signal,
        log: createLogger({ level: "error", format: "json" }),
      });
      // deno-lint-ignore no-explicit-any
      const status = async (): Promise<any> => {
        const res = await fetch(`http://127.0.0.1:${port}/sites/status`).catch(() => undefined);
        return res?.ok ? await res.json() : undefined;
      };
      // deno-lint-ignore no-explicit-any
      const until = async (what: string, ok: (s: any) => boolean, ms = 60_000) => {
        const deadline = Date.now() + ms;
        for (;;) {
          const s = await status();
          if (s && ok(s)) return s;
          if (Date.now() > deadline) {
            assert.fail(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      // The totals are a memo up to 5 s old: wait for them too, not only for the syncs.
      const both = await until(
        "both sites synced",
        (s) =>
          ["hamburg", "chicago"].every((k) => s.health.sites?.[k]?.last_sync?.ok) &&
          s.by_site.length === 2,
      );
      assert.deepEqual(both.by_site.map((r: { site: string }) => r.site), ["chicago", "hamburg"]);
      for (const r of both.by_site) assert.ok(r.points > 0 && r.tags > 0, JSON.stringify(r));
      const one = await fetch(`http://127.0.0.1:${port}/sites/status?site=chicago`).then((r) =>
        r.json()
      );
      assert.deepEqual(one.by_site.map((r: { site: string }) => r.site), ["chicago"]);
      const tags = await fetch(`http://127.0.0.1:${port}/sites/tags?site=chicago`).then((r) =>
        r.json()
      );
      assert.equal(tags.length, ignition.tags.length);
      assert.ok(
        tags.every((t: { site: string; machine: string }) => t.site === "chicago" && t.machine),
      );

      // Chicago's database goes away: Chicago's sync retries and its errors show; Hamburg keeps
      // syncing meanwhile; Chicago syncs again once its database is back.
      await ignition.close();
      const down = new Date().toISOString();
      const outage = pg.outage(12_000);
      const during = await until(
        "chicago failing while hamburg syncs",
        (s) => {
          const error = s.health.sites.chicago.recent_errors.findLast((e: { at: string }) =>
            e.at > down
          );
          return error !== undefined && s.health.sites.hamburg.last_sync.ok &&
            s.health.sites.hamburg.last_sync.at > error.at;
        },
        30_000,
      );
      assert.equal(during.health.sites.hamburg.recent_errors.length, 0, "hamburg saw no error");
      await outage;
      const up = new Date().toISOString();
      await until(
        "chicago back",
        (s) => s.health.sites.chicago.last_sync?.ok && s.health.sites.chicago.last_sync.at > up,
      );
    } finally {
      stop.abort();
      if (run) assert.equal(await run, 0);
      await ignition.close().catch(() => {});
      await pg.stop();
      await sim.close();
      await store.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
