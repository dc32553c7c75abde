/**
 * Exactly once across crashes: a backfill process is killed with SIGKILL at a random moment,
 * then run again to completion; the stored data must equal the source exactly. Five trials,
 * each with its own database; the seeds are printed so a failure can be replayed.
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
import { assertStoredEqualsSource } from "./_verify.ts";

const NOW = parseTicks("2026-11-20T12:00:00Z");
const FROM = parseTicks("2026-11-20T08:00:00Z");
const TO = parseTicks("2026-11-20T11:00:00Z");

/** A small deterministic PRNG (mulberry32), so a seed replays a trial. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

Deno.test({
  name:
    "a backfill killed with SIGKILL at random points and resumed stores every point exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    const sim = await startSimulator({
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
    const base = Number(Deno.env.get("KILL_TEST_SEED") ?? Date.now() % 1_000_000);
    try {
      for (let trial = 0; trial < 5; trial++) {
        const seed = base + trial;
        const random = prng(seed);
        const killAfterMs = 300 + Math.floor(random() * 3_500);
        await t.step(
          `trial ${trial + 1}: seed ${seed}, SIGKILL after ${killAfterMs} ms`,
          async () => {
            console.log(
              `kill trial ${trial + 1}: KILL_TEST_SEED=${seed} kill after ${killAfterMs} ms`,
            );
            const env = {
              WONDERWARE_HOST: "127.0.0.1",
              WONDERWARE_PORT: String(sim.port),
              CLICKHOUSE_URL: store.url,
              CLICKHOUSE_DB: testDatabase(),
              LOG_LEVEL: "warn",
            };
            const args = [
              "run",
              "-A",
              "main.ts",
              "backfill",
              `${dir}/spec.yaml`,
              "--from",
              formatTicks(FROM),
              "--to",
              formatTicks(TO),
            ];
            const victim = new Deno.Command(Deno.execPath(), {
              args,
              env,
              stdout: "null",
              stderr: "null",
            }).spawn();
            await new Promise((r) => setTimeout(r, killAfterMs));
            try {
              victim.kill("SIGKILL");
            } catch { /* it may have finished already */ }
            await victim.status;
            const resumed = await new Deno.Command(Deno.execPath(), {
              args,
              env,
              stdout: "piped",
              stderr: "piped",
            }).output();
            assert.equal(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
            const report = JSON.parse(
              new TextDecoder().decode(resumed.stdout).trim().split("\n").at(-1)!,
            );
            assert.equal(report.failed.length, 0);

            const loaded = parseSpec(spec, `${dir}/spec.yaml`, {
              plugins,
              sections,
              env: (n) => (env as Record<string, string>)[n],
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
        );
      }
    } finally {
      await sim.close();
      await store.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
