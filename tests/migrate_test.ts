/**
 * `migrate`, `run` and `validate --connect` as users run them, against the embedded store: the
 * plan printed, an apply killed (SIGKILL) half-way through filling new aggregations and run
 * again to the same result, and the two commands that refuse tables differing from the spec
 * naming migrate and showing its plan.
 */
import assert from "node:assert/strict";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import type { TestStore } from "./_clickhouse.ts";
import {
  DAYS,
  openPlant,
  plantSpec,
  RECOMPUTED_MINUTES,
  STORED_MINUTES,
  storedPlant,
  TAGS,
} from "./_migrate_plant.ts";
import type { PlantVersion } from "./_migrate_plant.ts";
import { assertRollupsEqualRaw } from "./_verify.ts";

let store: TestStore;
let dir: string;

/** Writes a version of the plant's spec to a file of its own. */
async function specFile(name: string, version: PlantVersion): Promise<string> {
  const file = `${dir}/${name}.yaml`;
  await Deno.writeTextFile(file, plantSpec(version));
  return file;
}

function main(args: string[], db: string, stderr: "piped" | "null" = "piped") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    env: { CLICKHOUSE_URL: store.url, CLICKHOUSE_DB: db, LOG_FORMAT: "json", LOG_LEVEL: "info" },
    stdout: "piped",
    stderr,
  });
}

async function output(args: string[], db: string) {
  const out = await main(args, db).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test({
  name: "migrate, run and validate --connect against the embedded store",
  sanitizeResources: false, // the store's process and the client's keep-alive sockets
  sanitizeOps: false,
  async fn(t) {
    store = await startTestStore();
    dir = await Deno.makeTempDir({ prefix: "historian-sync-migrate-" });
    try {
      await t.step(
        "on a new database there is nothing to migrate; --apply creates the tables",
        async () => {
          const db = testDatabase();
          const file = await specFile("new", {});
          const plan = await output(["migrate", file], db);
          assert.equal(plan.code, 0, plan.stderr);
          assert.match(
            plan.stdout,
            /^The tables in database t_\w+ at [\d.:]+ match the spec: nothing to migrate \(\d+ new tables, views or databases with nothing stored to fill them from: run creates them, as does --apply\)\.$/m,
          );
          const applied = await output(["migrate", file, "--apply"], db);
          assert.equal(applied.code, 0, applied.stderr);
          assert.match(applied.stdout, /now match the spec\.$/m);
          assert.equal(
            (await (await store.sql(`EXISTS TABLE ${db}.WonderwareHistoryAggregated`)).text())
              .trim(),
            "1",
          );
        },
      );

      await t.step(
        "run refuses tables that differ from the spec, naming migrate and showing the plan",
        async () => {
          const db = testDatabase();
          await storedPlant(store, db, {});
          const file = await specFile("longer", { keep: "180d" });
          const { code, stderr } = await output(["run", file], db);
          assert.equal(code, 1);
          const failed = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) =>
            JSON.parse(l)
          )
            .find((l) => l.msg === "the pipeline could not start");
          assert.ok(failed, stderr);
          const error = String(failed.error);
          assert.match(
            error,
            /tables in t_\w+ differ from the spec; nothing was changed or dropped/,
          );
          assert.ok(
            error.includes(
              `\`deno task migrate ${file}\` prints the plan that brings them to the spec, \`deno task migrate ${file} --apply\` runs it`,
            ),
            error,
          );
          assert.ok(
            error.includes(
              `ALTER TABLE \`${db}\`.\`WonderwareHistory\` MODIFY TTL DateTime + toIntervalDay(180);`,
            ),
            error,
          );
          assert.ok(error.includes(`Apply it with: deno task migrate ${file} --apply`), error);
        },
      );

      await t.step(
        "validate --connect says which tables differ, at their lines, and shows the plan",
        async () => {
          const db = testDatabase();
          await storedPlant(store, db, {});
          const file = await specFile("column", {
            keep: "180d",
            columns: ["OPCQuality: { type: Nullable(Int32), value: fields.OPCQuality }"],
          });
          const { code, stdout, stderr } = await output(["validate", "--connect", file], db);
          assert.equal(code, 1, stdout);
          const lines = stderr.trim().split("\n");
          assert.match(
            lines[0]!,
            new RegExp(
              `^${file}:\\d+:\\d+ tables\\.WonderwareHistory: WonderwareHistory in database ${db} at [\\d.:]+ differs from the spec \\(retention \\(TTL\\) is DateTime \\+ toIntervalDay\\(90\\), the spec says DateTime \\+ toIntervalDay\\(180\\) \\(stored parts are re-evaluated by a background mutation, see system\\.mutations\\); column OPCQuality Nullable\\(Int32\\) is new\\): run would refuse to start; \`deno task migrate ${file}\` prints the plan \\(below\\)`,
            ),
          );
          assert.equal(lines[1], "");
          assert.match(lines[2]!, new RegExp(`^Plan for database ${db} at [\\d.:]+: 1 change`));
          assert.ok(
            lines.includes(
              `     ALTER TABLE \`${db}\`.\`WonderwareHistory\` MODIFY TTL DateTime + toIntervalDay(180);`,
            ),
          );
          assert.ok(
            lines.includes(
              `     ALTER TABLE \`${db}\`.\`WonderwareHistory\` ADD COLUMN \`OPCQuality\` Nullable(Int32) AFTER \`QualityDetail\`;`,
            ),
          );
          const after = await output(["migrate", file, "--apply"], db);
          assert.equal(after.code, 0, after.stdout + after.stderr);
          const valid = await output(["validate", "--connect", file], db);
          assert.equal(valid.code, 0, valid.stderr);
          assert.equal(valid.stdout.trim(), `${file}: valid (checked against the store)`);
        },
      );

      await t.step(
        "an apply killed half-way through a fill resumes where it stopped, to the same result",
        async () => {
          const db = testDatabase();
          await storedPlant(store, db, { aggregations: "none" });
          const file = await specFile("rollups", { aggregations: "rollups" });
          const chunking = ["--chunk-tags", "2", "--chunk-window", "6h"];
          const plan = await output(["migrate", file, ...chunking], db);
          assert.equal(plan.code, 0, plan.stderr);
          assert.match(plan.stdout, /^Plan for database t_\w+ at [\d.:]+: 3 changes$/m);
          assert.match(
            plan.stdout,
            new RegExp(
              `per chunk of 2 tags × 6 h of WonderwareHistory: ${
                (TAGS / 2) * DAYS * 4
              } chunks, each recorded`,
            ),
          );
          assert.match(plan.stdout, new RegExp(`Apply it with: deno task migrate ${file} --apply`));

          // Killed once 10 chunks of the 1-minute aggregation are done (and recorded).
          const child = main(["migrate", file, "--apply", ...chunking], db).spawn();
          let killedAt = 0;
          const seen: string[] = [];
          const decoder = new TextDecoder();
          let buffered = "";
          for await (const bytes of child.stderr) {
            buffered += decoder.decode(bytes);
            const lines = buffered.split("\n");
            buffered = lines.pop()!;
            seen.push(...lines);
            const done = lines.map((l) =>
              /WonderwareHistoryAggregated \(fill\): chunk (\d+)\//.exec(l)
            )
              .filter((m) => m).map((m) => Number(m![1]));
            if (!killedAt && done.some((n) => n >= 10)) {
              killedAt = Math.max(...done);
              child.kill("SIGKILL");
            }
          }
          const status = await child.status;
          await child.stdout.cancel().catch(() => {});
          assert.ok(killedAt, seen.join("\n"));
          assert.equal(status.signal, "SIGKILL");

          const resumed = await output(["migrate", file, "--apply", ...chunking], db);
          assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
          assert.match(resumed.stdout, /an interrupted apply was filling it/);
          const skipped = Number(
            /\((\d+) done by an earlier apply, skipped\)/.exec(resumed.stdout)?.[1],
          );
          assert.ok(
            skipped >= killedAt,
            `${skipped} chunks skipped, ${killedAt} were done when killed`,
          );
          assert.match(
            resumed.stdout,
            /The tables in database t_\w+ at [\d.:]+ now match the spec\.$/m,
          );

          const s = await openPlant(store, db, { aggregations: "rollups" });
          try {
            assert.deepEqual(
              await s.sink.queries!.query(STORED_MINUTES),
              await s.sink.queries!.query(RECOMPUTED_MINUTES),
              "the 1-minute aggregation equals a recomputation from the raw rows",
            );
            await assertRollupsEqualRaw(s.sink.queries!);
          } finally {
            await s.close();
          }
          const again = await output(["migrate", file, "--apply", ...chunking], db);
          assert.equal(again.code, 0, again.stderr);
          assert.match(again.stdout, /match the spec: nothing to migrate/);
          assert.doesNotMatch(again.stdout, /Applied/);
        },
      );
    } finally {
      await store.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("migrate --help says what it does; bad chunking flags exit 2 naming the flag", async () => {
  const cli = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", ...args],
      env: { WONDERWARE_HOST: "unused" },
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  const help = await cli(["migrate", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: main.ts migrate \[spec\] \[--apply\] \[--allow-loss\]/);
  assert.match((await cli(["--help"])).stdout, /\n {2}migrate \[spec\] {7}Print the plan/);
  const tags = await cli(["migrate", "--chunk-tags", "0"]);
  assert.equal(tags.code, 2);
  assert.equal(
    tags.stderr,
    'Cannot use --chunk-tags "0": expected a whole number of tags, 1 or more\n',
  );
  const window = await cli(["migrate", "--chunk-window", "soon"]);
  assert.equal(window.code, 2);
  assert.match(
    window.stderr,
    /^Cannot use --chunk-window "soon": expected a duration of 1s or more/,
  );
});
