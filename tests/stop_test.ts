/**
 * Progress and Ctrl-C for real: `main.ts backfill` (not on a terminal, so log lines) from the
 * Historian simulator into the embedded store, with the historian made slow once the backfill
 * has planned (20 s before it answers each read). While the first units wait, a progress line
 * comes every 5 s; SIGINT then stops the process within 5 s, saying so; a second run stores
 * every point exactly once.
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
import { assertStoredEqualsSource } from "./_verify.ts";

const NOW = parseTicks("2026-11-20T12:00:00Z");
const FROM = parseTicks("2026-11-20T08:00:00Z");
const TO = parseTicks("2026-11-20T11:00:00Z");

interface Line {
  at: number;
  msg: string;
  level: string;
  [field: string]: unknown;
}

/** The process's JSON log lines as they come, timed on arrival. */
function follow(child: Deno.ChildProcess) {
  const lines: Line[] = [];
  const t0 = performance.now();
  const done = (async () => {
    let rest = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const p of parts) {
        if (!p.startsWith("{")) continue;
        lines.push({ ...JSON.parse(p), at: (performance.now() - t0) / 1000 });
      }
    }
  })();
  const until = async (msg: string, count = 1, timeoutMs = 120_000) => {
    const end = performance.now() + timeoutMs;
    while (lines.filter((l) => l.msg === msg).length < count) {
      if (performance.now() > end) throw new Error(`no "${msg}" in ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return lines.filter((l) => l.msg === msg).at(count - 1)!;
  };
  return { lines, until, done };
}

Deno.test({
  name:
    "a backfill on a slow historian logs progress every 5 s and stops within 5 s on SIGINT; the rerun stores every point once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
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
    const dir = await Deno.makeTempDir({ prefix: "stop-test-" });
    const spec = (await Deno.readTextFile("pipelines/wonderware.yaml"))
      .replace("window: ${WONDERWARE_BACKFILL_CHUNK_DAYS:-1}d", "window: 1h\n  batch_rows: 2000")
      .replace("tags_per_query: ${WONDERWARE_TAG_CHUNK_SIZE:-50}", "tags_per_query: 3")
      .replace("parallelism: 4", "parallelism: 2");
    await Deno.writeTextFile(`${dir}/spec.yaml`, spec);
    const env = {
      LOG_FORMAT: "json",
      WONDERWARE_HOST: "127.0.0.1",
      WONDERWARE_PORT: String(sim.port),
      ...SIM_LOGIN_ENV,
      CLICKHOUSE_URL: store.url,
      CLICKHOUSE_DB: testDatabase(),
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
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args,
        env,
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const log = follow(child);
      const planned = await log.until("backfill planned");
      sim.faults.delay(20_000);
      // Two progress lines while units wait for the historian: one every 5 s.
      const second = await log.until("backfill progress", 2, 30_000);
      const progress = log.lines.filter((l) => l.msg === "backfill progress");
      const times = [planned.at, ...progress.map((l) => l.at)];
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i]! - times[i - 1]! <= 6, `silent ${times[i]! - times[i - 1]!} s`);
      }
      const first = progress[0]!;
      assert.equal(second.units_done, first.units_done, "told while units wait, none ending");
      assert.equal(second.running, 2);
      for (const field of ["rows_read", "rows_stored", "already_stored", "rows_per_s"]) {
        assert.equal(typeof second[field], "number", field);
      }
      const signalled = performance.now();
      child.kill("SIGINT");
      const status = await child.status;
      const seconds = (performance.now() - signalled) / 1000;
      await log.done;
      assert.ok(
        seconds <= 5,
        `stopped ${seconds.toFixed(1)} s after SIGINT:\n${
          log.lines.slice(-12).map((l) => JSON.stringify(l)).join("\n")
        }`,
      );
      assert.equal(status.signal, null, "it stopped by itself");
      const stopping = log.lines.find((l) => l.msg.startsWith("stopping: finishing the batch"));
      assert.ok(stopping, "it said it was stopping");
      assert.ok(log.lines.some((l) => l.msg === "stopped cleanly"));
      const finished = log.lines.find((l) => l.msg === "backfill finished")!;
      assert.equal(finished.stopped, true);
      assert.equal(finished.units_done, first.units_done, "no unit committed half-way");

      sim.faults.clear();
      const rerun = await new Deno.Command(Deno.execPath(), { args, env, stdout: "piped" })
        .output();
      assert.equal(rerun.code, 0);
      const report = JSON.parse(new TextDecoder().decode(rerun.stdout).trim().split("\n").at(-1)!);
      assert.deepEqual(report.failed, []);
      assert.equal(report.rowsRead, report.rows + report.skippedRows);

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
      } finally {
        await engine.close();
      }
    } finally {
      await sim.close();
      await store.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
