/**
 * Exactly once across crashes, for any source: `deno run main.ts backfill` on a spec is killed
 * with SIGKILL at a random moment, then run again to completion; `check` then compares what is
 * stored with the source. Seeds are printed so a failing trial can be replayed
 * (KILL_TEST_SEED=<seed>).
 */
import assert from "node:assert/strict";

/** A small deterministic PRNG (mulberry32), so a seed replays a trial. */
export function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface KillTrials {
  /** The spec file the backfill runs. */
  spec: string;
  /** Its environment; `env(trial)` gives each trial its own database. */
  env: (trial: number) => Record<string, string>;
  from: string;
  to: string;
  trials?: number;
  /** Kill somewhere in [minMs, maxMs) after the start. */
  minMs?: number;
  maxMs?: number;
  /** Compares the store with the source once the resumed backfill finished. */
  check: (env: Record<string, string>, report: { units: number; rows: number }) => Promise<void>;
}

export async function killTrials(t: Deno.TestContext, o: KillTrials) {
  const base = Number(Deno.env.get("KILL_TEST_SEED") ?? Date.now() % 1_000_000);
  const min = o.minMs ?? 300, max = o.maxMs ?? 3_800;
  for (let trial = 0; trial < (o.trials ?? 5); trial++) {
    const seed = base + trial;
    const killAfterMs = min + Math.floor(prng(seed)() * (max - min));
    await t.step(`trial ${trial + 1}: seed ${seed}, SIGKILL after ${killAfterMs} ms`, async () => {
      console.log(`kill trial ${trial + 1}: KILL_TEST_SEED=${seed} kill after ${killAfterMs} ms`);
      const env = { LOG_LEVEL: "warn", ...o.env(trial) };
      const args = ["run", "-A", "main.ts", "backfill", o.spec, "--from", o.from, "--to", o.to];
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
      await o.check(env, report);
    });
  }
}
