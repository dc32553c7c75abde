/**
 * `verify --summaries` end to end: the Historian simulator over TDS (computing its own summaries
 * from its points), the embedded ClickHouse (computing the stored ones from the rows the
 * backfill wrote), the CLI as a user runs it. After a backfill of a small plant the two agree
 * at every 1-minute, 1-hour and 1-day cycle; a stored row changed behind the engine's back is
 * named by tag, resolution, cycle and column.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../simulator/mod.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { SIM_LOGIN, SIM_LOGIN_ENV } from "./_services.ts";

const HOUR = 3_600_000;

async function cli(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    env: { LOG_LEVEL: "error", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name:
    "verify --summaries: the stored summaries equal the historian's after a backfill; a corrupted row is named",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    // Analog tags at 10 s: linear (Temperature), stair-step (Pressure), divided (Speed,
    // rpm ÷ 60) and linear, divided, at sub-millisecond times (Flow, ÷ 3600: a linear segment
    // across a unit boundary once was not recomputed); two discrete tags at 10 s and a text tag at 5 minutes; with the plant's outages
    // (gap markers). Backfilled in day units, so cycles and occurrences span units.
    const sim = await startSimulator({
      ...SIM_LOGIN,
      plant: { analog: 4, discrete: 2, string: 1, analogRateMs: 10_000, historyMs: 2 * 24 * HOUR },
    });
    try {
      const db = testDatabase();
      const env = {
        WONDERWARE_HOST: sim.host,
        WONDERWARE_PORT: String(sim.port),
        ...SIM_LOGIN_ENV,
        CLICKHOUSE_URL: store.url,
        CLICKHOUSE_DB: db,
      };
      // From before the plant's first point (nothing before it to carry in) to a past hour.
      const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
      const from = new Date(Math.floor(Date.now() / HOUR) * HOUR - 3 * 24 * HOUR);
      const range = ["--from", from.toISOString(), "--to", to.toISOString()];
      const backfill = await cli(["backfill", ...range], env);
      assert.equal(backfill.code, 0, backfill.stderr);

      const clean = await cli(["verify", "--summaries", ...range], env);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      const summary = clean.stdout.trim().split("\n").at(-1)!;
      assert.match(
        summary,
        /^verify --summaries: 7 tags, \d+ at 1m, \d+ at 1h, \d+ at 1d cycles compared in [\d.]+ s: 0 differ \(floating-point values within a relative 1e-9\)$/,
      );
      const [m, h] = [...summary.matchAll(/(\d+) at 1[mh]/g)].map((x) => Number(x[1]));
      assert.ok(m! > 3 * 1.9 * 1440 && h! > 3 * 1.9 * 24, summary);

      const tag = sim.tags.find((t) => t.kind === "analog" && !t.name.startsWith("Sys"))!.name;
      const cycle = new Date(to.getTime() - 5 * HOUR).toISOString().replace("T", " ").slice(0, 19);
      const sql = `ALTER TABLE ${db}.AnalogSummaryHistory__data UPDATE Average = Average + 1 ` +
        `WHERE TagName = '${tag}' AND wwResolution = 3600000 ` +
        `AND StartDateTime = toDateTime64('${cycle}', 7, 'UTC') SETTINGS mutations_sync = 2`;
      const corrupted = await store.sql(sql);
      assert.equal(corrupted.status, 200, await corrupted.text());

      const found = await cli(["verify", "--summaries", ...range], env);
      assert.equal(found.code, 1, found.stdout + found.stderr);
      const lines = found.stdout.trim().split("\n");
      assert.match(lines[0]!, /^tag\s+resolution\s+cycle\s+state\s+column\s+historian\s+stored$/);
      assert.equal(lines.length, 3, found.stdout);
      const stamp = cycle.replace(" ", "T") + "Z";
      assert.match(
        lines[1]!,
        new RegExp(`^${tag.replace(/\./g, "\\.")}\\s+1h\\s+${stamp}\\s+Average\\s+\\S+\\s+\\S+$`),
      );
      const [historian, stored] = lines[1]!.trim().split(/\s+/).slice(-2).map(Number);
      assert.ok(Math.abs(stored! - historian! - 1) < 1e-6, lines[1]!);
      assert.match(lines[2]!, /: 1 differ /);
    } finally {
      await sim.close();
      await store.stop();
    }
  },
});
