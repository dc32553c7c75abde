/**
 * The sink's `migrate` capability: the plan that brings existing tables to the spec, and
 * applying it. Schema changes on live tables go through here (plan, then apply), never by hand.
 *
 * - In place where ClickHouse can: `MODIFY TTL`, `MODIFY`/`RESET SETTING`, `ADD COLUMN`,
 *   `MODIFY COLUMN` (a type, checked against every stored value first; a default; a codec),
 *   `DROP COLUMN` (only when the caller allows discarding stored values); materialized views
 *   dropped and created again with the spec's SELECT.
 * - A new aggregation is created and filled from the rows already stored, an aggregation with a
 *   new column recomputed, by the sink's own recompute statement (aggregates.ts) per chunk of
 *   tags and time window, each chunk recorded as done in the pipeline state.
 * - What cannot change in place (the engine, a key, the partitioning, a key column's type) is
 *   rebuilt: a new table, `INSERT … SELECT` per chunk, counted, `EXCHANGE TABLES`, the old one
 *   dropped.
 *
 * Applying twice changes nothing the second time: every step is planned from what exists now,
 * and chunks, fills and rebuilds an interrupted apply finished are recorded (_migrate_run.ts).
 * A cluster's plan is shown with ON CLUSTER statements but not applied (untested on a cluster).
 */
import { formatPlan, pendingSteps, PluginError } from "../../engine/mod.ts";
import type {
  MigrateOptions,
  MigrateService,
  MigrationPlan,
  MigrationResult,
  StorageModel,
} from "../../engine/mod.ts";
import { PLUGIN } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { planMigration } from "./_migrate_plan.ts";
import type { Planned } from "./_migrate_run.ts";

export { planMigration } from "./_migrate_plan.ts";

export function createMigrate(conn: Conn): MigrateService {
  return {
    async plan(model: StorageModel, pipeline: string, options?: MigrateOptions) {
      return planOf(conn, (await planMigration(conn, model, pipeline, options)).planned);
    },
    apply: (model, pipeline, options) => applyMigration(conn, model, pipeline, options),
  };
}

export function planOf(conn: Conn, planned: Planned[]): MigrationPlan {
  return {
    target: `database ${conn.target.database} at ${conn.address}`,
    steps: planned.map((p) => p.step),
  };
}

async function applyMigration(
  conn: Conn,
  model: StorageModel,
  pipeline: string,
  options: MigrateOptions = {},
): Promise<MigrationResult> {
  const result: MigrationResult = { steps: 0, chunks: 0, skipped: 0, rows: 0 };
  const { planned } = await planMigration(conn, model, pipeline, options);
  const steps = planned.map((p) => p.step);
  if (conn.target.cluster && pendingSteps(planOf(conn, planned)).length) {
    throw refused(
      `migrate does not apply plans on a cluster yet (its ON CLUSTER statements are untested on a real cluster): run the plan's statements by hand, table by table`,
    );
  }
  const manual = steps.filter((s) => s.action === "manual");
  if (manual.length) {
    throw refused(
      `nothing was applied: ${
        manual.map((s) => `${s.name}: ${s.changes.join("; ")}`).join("\n  ")
      }`,
    );
  }
  const losing = steps.filter((s) => s.loses);
  if (losing.length && !options.allowLoss) {
    throw refused(
      `nothing was applied: the plan discards ${
        losing.map((s) => `${s.loses} (${s.name})`).join(", ")
      }; apply it with --allow-loss once that is what you want`,
    );
  }
  for (const p of planned) {
    const ran = await p.run();
    if (!p.step.chunks) {
      options.onProgress?.({ step: p.step, done: 1, total: 1, skipped: 0, rows: 0 });
    }
    result.steps++;
    result.chunks += ran.chunks;
    result.skipped += ran.skipped;
    result.rows += ran.rows;
  }
  return result;
}

/**
 * The refusal `run` gives when the tables differ from the spec: the differences, then the plan
 * and the command that applies it (`spec` is the spec file, when the sink knows it).
 */
export function refusal(
  database: string,
  problems: string[],
  plan: MigrationPlan,
  spec = "<spec>",
): string {
  const lines = problems.length
    ? problems
    : pendingSteps(plan).map((s) => `${s.name}: ${s.changes.join("; ")}`);
  const command = `deno task migrate ${spec}`;
  return `tables in ${database} differ from the spec; nothing was changed or dropped:\n  ${
    lines.join("\n  ")
  }\n\`${command}\` prints the plan that brings them to the spec, \`${command} --apply\` runs it:\n\n${
    formatPlan(plan, command)
  }`;
}

function refused(message: string): PluginError {
  return new PluginError(PLUGIN, message, { reason: "invalid" });
}
