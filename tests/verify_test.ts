/**
 * `verify` end to end: the Historian simulator over TDS, the embedded ClickHouse, the CLI as a
 * user runs it. After a backfill it finds nothing missing; after rows are deleted from
 * ClickHouse it names the tag and the day; `--repair` brings them back.
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
    "verify: nothing missing after a backfill; deleted rows named by tag and day; --repair restores them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    const sim = await startSimulator({
      ...SIM_LOGIN,
      plant: { analog: 3, discrete: 1, string: 1, analogRateMs: 60_000, historyMs: 4 * 24 * HOUR },
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
      const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
      const from = new Date(to.getTime() - 2 * 24 * HOUR);
      const range = ["--from", from.toISOString(), "--to", to.toISOString()];
      const backfill = await cli(["backfill", ...range], env);
      assert.equal(backfill.code, 0, backfill.stderr);

      const clean = await cli(["verify", ...range], env);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /^verify: 5 tags, 15 tag-windows compared in [\d.]+ s: 0 differ/m);

      const tag = sim.tags.find((t) => !t.name.startsWith("Sys") && t.kind === "analog")!.name;
      const day = new Date(from.getTime() + 24 * HOUR).toISOString().slice(0, 10);
      // The day's window is (00:00, 24:00]: a reading at midnight ends the day before.
      const sql = `ALTER TABLE ${db}.WonderwareHistory DELETE WHERE TagName = '${tag}' ` +
        `AND DateTime > toDateTime64('${day} 00:00:00', 7, 'UTC') ` +
        `AND DateTime <= toDateTime64('${day} 00:00:00', 7, 'UTC') + INTERVAL 1 DAY ` +
        `SETTINGS mutations_sync = 2`;
      const deleted = await fetch(`${store.url}/`, { method: "POST", body: sql });
      assert.equal(deleted.status, 200, await deleted.text());

      const found = await cli(["verify", ...range], env);
      assert.equal(found.code, 1, found.stdout + found.stderr);
      const lines = found.stdout.trim().split("\n");
      assert.match(lines[0]!, /^tag\s+from\s+to\s+historian\s+stored\s+missing$/);
      const row = lines.find((l) => l.startsWith(tag))!;
      assert.ok(row, found.stdout);
      assert.match(row, new RegExp(`^${tag.replace(/\./g, "\\.")}\\s+${day}T00:00:00Z\\s+`));
      assert.match(row, /\s1440\s+0\s+1440$/, "a day at one minute, all of it missing");
      assert.match(lines.at(-2)!, /: 1 differ \(historian \d+ readings, stored \d+\)$/);
      assert.equal(
        lines.at(-1),
        "1 tag-windows differ (1440 readings missing from the store): run the same verify with " +
          "--repair to re-read exactly those windows, write what is missing and verify again",
      );

      const repaired = await cli(["verify", "--repair", ...range], env);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, /^repair: re-read 1 tag-windows, wrote 1440 readings$/m);
      assert.match(repaired.stdout.trim().split("\n").at(-1)!, /: 0 differ/);
    } finally {
      await sim.close();
      await store.stop();
    }
  },
});
