/**
 * The request that took the store to 18 GB and ran 23–60 s (issue 28): the shipped timeseries
 * route, raw, for 50 tags × max_data_points=10000, over a million stored readings. It must be
 * answered within the route's timeout, with the store's memory within the route's cap, and a
 * client that gives up must free the store at once.
 */
import assert from "node:assert/strict";
import { resolveAssets } from "../engine/assets.ts";
import { createHealth } from "../engine/health.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { parseTicks } from "../engine/types.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { startTestStore, testDatabase } from "../tests/_clickhouse.ts";
import { apiOf } from "./spec.ts";
import { createApi } from "./app.ts";

const T0 = parseTicks("2026-11-01T00:00:00Z");
const TAGS: TagInfo[] = Array.from({ length: 50 }, (_, i) => ({
  name: `Plant.L1.Machine${String(i).padStart(2, "0")}.Temperature`,
  type: "analog" as const,
  unit: "°C",
}));
const POINTS = 20_000; // per tag, one a second: 5.5 hours

/** The store's resident memory now and at its peak since the last reset, in MB. */
async function memoryMb(pid: number) {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

Deno.test({
  name: "50 tags × 10,000 raw points: answered within the route's timeout and memory cap",
  sanitizeResources: false, // the sink's HTTP agent keeps sockets for the store until it closes
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    const vars: Record<string, string> = {
      CLICKHOUSE_URL: store.url,
      CLICKHOUSE_DB: testDatabase(),
      WONDERWARE_HOST: "x",
    };
    const loaded = await loadSpec("pipelines/wonderware.yaml", {
      plugins,
      sections,
      env: (n) => vars[n],
    });
    const sink = await clickhouse.create(loaded.plugins.sink.options as never, {
      log: createLogger({ level: "error", format: "json" }),
      signal: new AbortController().signal,
      clock: systemClock,
      secrets: new Set(),
      dataDir: "/nonexistent",
    });
    try {
      const { tables, aggregations, assets } = loaded.spec;
      await sink.prepare({ tables, aggregations, assets }, loaded.spec.name);
      await sink.setAssets(resolveAssets(assets!, TAGS, "wonderware"));
      for (const tag of TAGS) {
        const readings: Reading[] = Array.from({ length: POINTS }, (_, k) => ({
          tag: tag.name,
          time: T0 + BigInt(k) * 10_000_000n,
          value: 20 + Math.sin(k / 300) * 5 + (k % 7) / 10,
          text: null,
          quality: "good" as const,
          qualityCode: 192,
          fields: {},
        }));
        await sink.write({ readings, fields: { wwRetrievalMode: "FULL" } });
      }
      await sink.commit({
        tags: TAGS.map((t) => t.name),
        window: { from: T0 - 1n, to: T0 + BigInt(POINTS) * 10_000_000n },
        rows: TAGS.length * POINTS,
        readings: TAGS.length * POINTS,
      });
      const route = apiOf(loaded.spec)!.routes["/consumption/wonderware_timeseries"]!;
      const app = createApi(apiOf(loaded.spec)!, {
        queries: sink.queries,
        health: createHealth(),
        log: createLogger({ level: "error", format: "json" }),
      });
      const url = `/consumption/wonderware_timeseries?tags=${
        TAGS.map((t) => encodeURIComponent(t.name)).join(",")
      }&start_ts=2026-11-01T00:00:00Z&end_ts=2026-11-02T00:00:00Z&aggregation=raw&max_data_points=10000`;

      const pid = store.pid()!;
      await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5"); // resets the peak (VmHWM)
      const before = await memoryMb(pid);
      const t0 = performance.now();
      const res = await app.request(url);
      const ms = performance.now() - t0;
      const body = await res.json();
      const after = await memoryMb(pid);
      const capMb = route.max_memory / 2 ** 20;
      console.log(
        `50 × 10,000 raw: HTTP ${res.status} in ${Math.round(ms)} ms; store RSS ${
          Math.round(before.rss)
        } MB before, peak ${Math.round(after.peak)} MB (route cap ${capMb} MB)`,
      );
      assert.equal(res.status, 200, JSON.stringify(body).slice(0, 300));
      assert.equal(body.length, 50);
      for (const series of body) assert.equal(series.datapoints.length, 10_000);
      assert.ok(ms < route.timeout + 1000, `answered in ${ms} ms, timeout ${route.timeout} ms`);
      assert.ok(after.peak - before.rss < capMb * 1.5, `the store grew to ${after.peak} MB`);

      // The same request given up after 100 ms: the store is free for the next one at once.
      const gone = new AbortController();
      const abandoned = Promise.resolve(app.request(url, { signal: gone.signal }))
        .then((r) => r.body?.cancel(), () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      gone.abort();
      await abandoned;
      const t1 = performance.now();
      const quick = await app.request(
        `/consumption/wonderware_tags?limit=1`,
      );
      await quick.body?.cancel();
      assert.equal(quick.status, 200);
      assert.ok(performance.now() - t1 < 5000, `waited ${performance.now() - t1} ms`);
    } finally {
      await sink.close();
      await store.stop();
    }
  },
});
