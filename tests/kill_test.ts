/**
 * Exactly once across crashes: a backfill from the Historian simulator is killed with SIGKILL
 * at a random moment, then run again to completion; the stored data must equal the source
 * exactly. Five trials, each with its own database (tests/_kill.ts).
 */
import assert from "node:assert/strict";
import { startEngine } from "../engine/engine.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { parseSpec } from "../engine/spec/load.ts";
import { formatTicks, parseTicks } from "../engine/types.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import { startSimulator } from "../simulator/mod.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { SIM_LOGIN, SIM_LOGIN_ENV } from "./_services.ts";
import { killTrials } from "./_kill.ts";
import { assertStoredEqualsSource } from "./_verify.ts";

const NOW = parseTicks("2026-11-20T12:00:00Z");
const FROM = parseTicks("2026-11-20T08:00:00Z");
const TO = parseTicks("2026-11-20T11:00:00Z");

Deno.test({
  name:
    "a backfill killed with SIGKILL at random points and resumed stores every point exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    const sim = await startSimulator({
      ...SIM_LOGIN,
      now: () => NOW,
      plant: {
        analog: 6,
        discrete: 2,
        string: 1,
        analogRateMs: 1_000,
        discreteRateMs: 30_000,
        stringRateMs: 600_000,
        historyMs: 86_400_000,
      },
    });
    const dir = await Deno.makeTempDir({ prefix: "kill-test-" });
    const spec = (await Deno.readTextFile("pipelines/wonderware.yaml"))
      .replace("window: ${WONDERWARE_BACKFILL_CHUNK_DAYS:-1}d", "window: 20m\n  batch_rows: 2000")
      .replace("tags_per_query: ${WONDERWARE_TAG_CHUNK_SIZE:-50}", "tags_per_query: 3")
      .replace("parallelism: 4", "parallelism: 2");
    await Deno.writeTextFile(`${dir}/spec.yaml`, spec);
    try {
      await killTrials(t, {
        spec: `${dir}/spec.yaml`,
        from: formatTicks(FROM),
        to: formatTicks(TO),
        env: () => ({
          WONDERWARE_HOST: "127.0.0.1",
          WONDERWARE_PORT: String(sim.port),
          ...SIM_LOGIN_ENV,
          CLICKHOUSE_URL: store.url,
          CLICKHOUSE_DB: testDatabase(),
        }),
        async check(env, report) {
          const loaded = parseSpec(spec, `${dir}/spec.yaml`, {
            plugins,
            sections,
            env: (n) => env[n],
          });
          const engine = await startEngine(loaded, {
            log: createLogger({ level: "error", format: "json" }),
            clock: systemClock,
            secrets: new Set(),
            dataDir: dir,
          });
          try {
            await assertStoredEqualsSource(engine, FROM - 1n, TO);
            const state = await engine.state!.load();
            assert.ok(state.doneUnits.size >= report.units, "every unit recorded");
          } finally {
            await engine.close();
          }
        },
      });
    } finally {
      await sim.close();
      await store.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
