/**
 * The migration plan: every declared table and view against what exists (drift.ts), turned into
 * steps that bring them to the spec, each with the code that does it (_migrate_fill.ts fills
 * aggregations, _migrate_rebuild.ts rebuilds what cannot change in place). A step's statements
 * are the ones it runs; what only a later state of the store can tell (the chunks of an
 * aggregation filled from another one being filled) is counted when the step runs.
 */
import { isReadingsTable } from "../../engine/mod.ts";
import type { MigrateOptions, MigrationStep, StorageModel } from "../../engine/mod.ts";
import { aggregateSql } from "./aggregates.ts";
import { attempt, rows } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { assetsTable, modelDdl, onCluster, q } from "./ddl.ts";
import type { Ddl } from "./ddl.ts";
import { inspect, problemsOf } from "./drift.ts";
import type { Inspection } from "./drift.ts";
import { probeSql, tableDiff } from "./_migrate_diff.ts";
import type { Alter, TableDiff } from "./_migrate_diff.ts";
import { fillDerivedStep, fillStep } from "./_migrate_fill.ts";
import { rebuildStep, resumeRebuild } from "./_migrate_rebuild.ts";
import {
  exec,
  listChunks,
  lost,
  markOf,
  NONE,
  readMarks,
  rebuiltName,
  refused,
  STARTED,
} from "./_migrate_run.ts";
import type { ChunkSource, MarkKind, Planned } from "./_migrate_run.ts";

export interface Planning {
  /** The differences, one line each, as the drift check words them. */
  problems: string[];
  planned: Planned[];
}

export async function planMigration(
  conn: Conn,
  model: StorageModel,
  pipeline: string,
  options: MigrateOptions = {},
): Promise<Planning> {
  const { target } = conn;
  const ddl = modelDdl(target, pipeline, model);
  const inspections = await attempt(
    conn,
    "checking existing tables",
    () => inspect(conn.root, target, ddl),
  );
  const existing = new Map(
    (await rows<{ name: string; engine: string }>(
      conn,
      "listing existing tables",
      "SELECT name, engine FROM system.tables WHERE database = {d:String}",
      { d: target.database },
    )).map((t) => [t.name, t.engine]),
  );
  const marks = await readMarks(conn, pipeline);
  const p: Planner = {
    conn,
    model,
    pipeline,
    options,
    ddl,
    existing,
    marks,
    filling: new Set(),
    sql: new Map(aggregateSql(conn.db, model).map((a) => [a.name, a.sql])),
  };
  const planned: Planned[] = [];
  const [{ n } = { n: "0" }] = await rows<{ n: string }>(
    conn,
    "looking for the database",
    "SELECT count() AS n FROM system.databases WHERE name = {d:String}",
    { d: target.database },
  );
  if (Number(n) === 0) planned.push(createStep(p, ddl[0]!));
  for (const ins of inspections) {
    const step = await stepFor(p, ins);
    if (step) planned.push(step);
  }
  return { problems: problemsOf(target, inspections), planned };
}

/** What planning a step needs to know: the store, the spec, what exists, what is recorded. */
export interface Planner {
  conn: Conn;
  model: StorageModel;
  pipeline: string;
  options: MigrateOptions;
  ddl: Ddl[];
  /** Tables of the database now, name → engine. */
  existing: Map<string, string>;
  /** migrate's units in the pipeline state (_migrate_run.ts). */
  marks: Map<string, number>;
  /** Tables this plan fills: they will have rows by the time a later step reads them. */
  filling: Set<string>;
  /** Each aggregation's recompute statement (aggregates.ts). */
  sql: Map<string, string>;
}

/** `db`.`name` with the target's ON CLUSTER, as ALTER takes it. */
export function tableOf(p: Planner, name: string) {
  return `${p.conn.db}.${q(name)}${onCluster(p.conn.target)}`;
}

/** Whether an apply started a fill or rebuild of `name` and did not finish it. */
export function pending(p: Planner, kind: MarkKind, name: string) {
  return p.marks.get(markOf(kind, name)) === STARTED;
}

function pathOf(p: Planner, name: string): (string | number)[] {
  const base = name.replace(/__mv$/, "");
  if (base in p.model.tables) return ["tables", base];
  if (base in p.model.aggregations) return ["aggregations", base];
  if (p.model.assets && base === assetsTable(p.pipeline, p.model)) return ["assets"];
  const s = p.model.summaries;
  if (s && (base.startsWith(s.analog_table) || base.startsWith(s.state_table))) {
    return ["summaries"];
  }
  return [];
}

export function stepOf(
  p: Planner,
  name: string,
  action: MigrationStep["action"],
  rest: Partial<MigrationStep> = {},
) {
  return {
    name,
    path: pathOf(p, name),
    action,
    changes: [],
    statements: [],
    ...rest,
  } satisfies MigrationStep;
}

async function stepFor(p: Planner, ins: Inspection): Promise<Planned | undefined> {
  const d = ins.ddl;
  if (d.kind === "distributed") {
    if (!ins.problem) return undefined;
    return manualStep(stepOf(p, d.name, "manual", { changes: [ins.problem] }));
  }
  if (d.kind === "view") {
    if (!ins.existing) return createStep(p, d);
    if (ins.existing.as_select === ins.select) return undefined;
    return statementsStep(
      p,
      stepOf(p, d.name, "view", {
        changes: [`the view selects ${ins.existing.as_select}`, `the spec says ${ins.select}`],
        statements: [`DROP VIEW IF EXISTS ${tableOf(p, d.name)} SYNC`, d.sql],
      }),
    );
  }
  if (p.existing.has(rebuiltName(d.name))) return await resumeRebuild(p, ins);
  if (!ins.existing) return await fillNew(p, d) ?? createStep(p, d);
  const diff = tableDiff(tableOf(p, d.name), ins);
  const changed = diff.changes.length + diff.rebuild.length > 0;
  const view = `${d.name}__mv`;
  if (
    changed && p.existing.get(view) === "MaterializedView" &&
    !p.ddl.some((x) => x.name === view)
  ) {
    return manualStep(stepOf(p, d.name, "manual", {
      changes: [
        `${d.name} is filled by ${view}, a materialized view the spec no longer declares (a copy from an older model)`,
        `drop the view by hand (DROP VIEW ${p.conn.db}.${
          q(view)
        }), and the table if its rows are not needed (DROP TABLE ${p.conn.db}.${
          q(d.name)
        }; the asset dimension is rebuilt from discovery at the next start); then plan again`,
      ],
    }));
  }
  if (diff.rebuild.length) return await rebuildStep(p, ins, diff);
  const agg = p.model.aggregations[d.name];
  if (
    agg && (diff.added.length || pending(p, "fill", d.name) || pending(p, "refill", d.name))
  ) {
    return await fillStep(p, d.name, pending(p, "fill", d.name) ? "fill" : "refill", diff);
  }
  if (diff.alters.length) return alterStep(p, d.name, diff);
  return undefined;
}

function createStep(p: Planner, d: Ddl): Planned {
  return statementsStep(p, stepOf(p, d.name, "create", { statements: [d.sql] }));
}

export function manualStep(step: MigrationStep): Planned {
  return { step, run: () => Promise.resolve(NONE) };
}

function statementsStep(p: Planner, step: MigrationStep): Planned {
  return {
    step,
    run: async () => {
      for (const sql of step.statements) {
        await exec(p.conn, `${step.action} ${step.name}`, sql);
      }
      return NONE;
    },
  };
}

function alterStep(p: Planner, name: string, diff: TableDiff): Planned {
  const step = stepOf(p, name, "alter", {
    changes: diff.changes,
    statements: diff.alters.map((a) => a.sql),
    loses: lost(diff.loses),
  });
  return { step, run: async () => (await runAlters(p, name, diff.alters), NONE) };
}

/** Runs ALTERs in order, each type change after checking that the stored values convert. */
export async function runAlters(p: Planner, name: string, alters: Alter[]) {
  for (const a of alters) {
    if (a.probe) {
      const [r] = await rows<{ n: string; example: string }>(
        p.conn,
        `checking the stored values of ${name}.${a.probe.column}`,
        probeSql(p.conn.db, name, a.probe.column, a.probe.to),
      );
      if (Number(r?.n ?? 0) > 0) {
        throw refused(
          `${name}.${a.probe.column}: ${
            r!.n
          } stored values do not convert from ${a.probe.from} to ${a.probe.to} (for example ${
            JSON.stringify(r!.example)
          }); nothing of this column was changed: change its type by hand, or declare a type that holds them`,
        );
      }
    }
    await exec(p.conn, `altering ${name}`, a.sql);
  }
}

/** Whether `table` holds rows now, or will once this plan has filled it. */
async function hasRows(p: Planner, table: string): Promise<boolean> {
  if (p.filling.has(table)) return true;
  if (!p.existing.has(table)) return false;
  const found = await rows<{ x: number }>(
    p.conn,
    `looking for rows in ${table}`,
    `SELECT 1 AS x FROM ${p.conn.db}.${q(table)} LIMIT 1`,
  );
  return found.length > 0;
}

/** A new aggregation, or derived table, whose source holds rows: created and filled. */
async function fillNew(p: Planner, d: Ddl): Promise<Planned | undefined> {
  const agg = p.model.aggregations[d.name];
  const derived = p.model.tables[d.name];
  const from = agg?.from ?? (derived && !isReadingsTable(derived) ? derived.from : undefined);
  if (!from || !await hasRows(p, from)) return undefined;
  if (agg) return await fillStep(p, d.name, "fill", undefined, d.sql);
  return fillDerivedStep(p, d, from);
}

/** The chunks of `source` now, and how many an interrupted apply finished. */
export async function countChunks(p: Planner, source: ChunkSource, prefix: string) {
  const chunks = await listChunks(p.conn, source, p.options);
  return {
    total: chunks.length,
    done: chunks.filter((c) => p.marks.has(`${prefix}:${c.id}`)).length,
  };
}
