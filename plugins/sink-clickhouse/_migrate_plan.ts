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
  const p = new Planner(conn, model, pipeline, options, ddl, existing, marks);
  const planned: Planned[] = [];
  const [{ n } = { n: "0" }] = await rows<{ n: string }>(
    conn,
    "looking for the database",
    "SELECT count() AS n FROM system.databases WHERE name = {d:String}",
    { d: target.database },
  );
  if (Number(n) === 0) planned.push(p.create(ddl[0]!));
  for (const ins of inspections) {
    const step = await p.stepFor(ins);
    if (step) planned.push(step);
  }
  return { problems: problemsOf(target, inspections), planned };
}

export class Planner {
  /** Tables this plan fills or rebuilds: they will have rows by the time a later step reads them. */
  filling = new Set<string>();
  /** Each aggregation's recompute statement (aggregates.ts). */
  sql: Map<string, string>;

  constructor(
    readonly conn: Conn,
    readonly model: StorageModel,
    readonly pipeline: string,
    readonly options: MigrateOptions,
    readonly ddl: Ddl[],
    readonly existing: Map<string, string>,
    readonly marks: Map<string, number>,
  ) {
    this.sql = new Map(aggregateSql(conn.db, model).map((a) => [a.name, a.sql]));
  }

  /** `db`.`name` with the target's ON CLUSTER, as ALTER takes it. */
  table(name: string) {
    return `${this.conn.db}.${q(name)}${onCluster(this.conn.target)}`;
  }

  pending(kind: MarkKind, name: string) {
    return this.marks.get(markOf(kind, name)) === STARTED;
  }

  pathOf(name: string): (string | number)[] {
    const base = name.replace(/__mv$/, "");
    if (base in this.model.tables) return ["tables", base];
    if (base in this.model.aggregations) return ["aggregations", base];
    if (this.model.assets && base === assetsTable(this.pipeline, this.model)) return ["assets"];
    const s = this.model.summaries;
    if (s && (base.startsWith(s.analog_table) || base.startsWith(s.state_table))) {
      return ["summaries"];
    }
    return [];
  }

  step(name: string, action: MigrationStep["action"], rest: Partial<MigrationStep> = {}) {
    return {
      name,
      path: this.pathOf(name),
      action,
      changes: [],
      statements: [],
      ...rest,
    } satisfies MigrationStep;
  }

  async stepFor(ins: Inspection): Promise<Planned | undefined> {
    const d = ins.ddl;
    if (d.kind === "distributed") {
      if (!ins.problem) return undefined;
      return this.manual(this.step(d.name, "manual", { changes: [ins.problem] }));
    }
    if (d.kind === "view") {
      if (!ins.existing) return this.create(d);
      if (ins.existing.as_select === ins.select) return undefined;
      return this.statements(this.step(d.name, "view", {
        changes: [`the view selects ${ins.existing.as_select}`, `the spec says ${ins.select}`],
        statements: [`DROP VIEW IF EXISTS ${this.table(d.name)} SYNC`, d.sql],
      }));
    }
    if (this.existing.has(rebuiltName(d.name))) return await resumeRebuild(this, ins);
    if (!ins.existing) return await this.fillNew(d) ?? this.create(d);
    const diff = tableDiff(this.table(d.name), ins);
    const changed = diff.changes.length + diff.rebuild.length > 0;
    const view = `${d.name}__mv`;
    if (
      changed && this.existing.get(view) === "MaterializedView" &&
      !this.ddl.some((x) => x.name === view)
    ) {
      return this.manual(this.step(d.name, "manual", {
        changes: [
          `${d.name} is filled by ${view}, a materialized view the spec no longer declares (a copy from an older model)`,
          `drop the view by hand (DROP VIEW ${this.conn.db}.${
            q(view)
          }), and the table if its rows are not needed (DROP TABLE ${this.conn.db}.${
            q(d.name)
          }; the asset dimension is rebuilt from discovery at the next start); then plan again`,
        ],
      }));
    }
    if (diff.rebuild.length) return await rebuildStep(this, ins, diff);
    const agg = this.model.aggregations[d.name];
    if (
      agg && (diff.added.length || this.pending("fill", d.name) || this.pending("refill", d.name))
    ) {
      return await fillStep(this, d.name, this.pending("fill", d.name) ? "fill" : "refill", diff);
    }
    if (diff.alters.length) return this.alter(d.name, diff);
    return undefined;
  }

  create(d: Ddl): Planned {
    return this.statements(this.step(d.name, "create", { statements: [d.sql] }));
  }

  manual(step: MigrationStep): Planned {
    return { step, run: () => Promise.resolve(NONE) };
  }

  statements(step: MigrationStep): Planned {
    return {
      step,
      run: async () => {
        for (const sql of step.statements) {
          await exec(this.conn, `${step.action} ${step.name}`, sql);
        }
        return NONE;
      },
    };
  }

  alter(name: string, diff: TableDiff): Planned {
    const step = this.step(name, "alter", {
      changes: diff.changes,
      statements: diff.alters.map((a) => a.sql),
      loses: lost(diff.loses),
    });
    return { step, run: async () => (await this.alters(name, diff.alters), NONE) };
  }

  /** Runs ALTERs in order, each type change after checking that the stored values convert. */
  async alters(name: string, alters: Alter[]) {
    for (const a of alters) {
      if (a.probe) {
        const [r] = await rows<{ n: string; example: string }>(
          this.conn,
          `checking the stored values of ${name}.${a.probe.column}`,
          probeSql(this.conn.db, name, a.probe.column, a.probe.to),
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
      await exec(this.conn, `altering ${name}`, a.sql);
    }
  }

  /** Whether `table` holds rows now, or will once this plan has filled it. */
  async hasRows(table: string): Promise<boolean> {
    if (this.filling.has(table)) return true;
    if (!this.existing.has(table)) return false;
    const found = await rows<{ x: number }>(
      this.conn,
      `looking for rows in ${table}`,
      `SELECT 1 AS x FROM ${this.conn.db}.${q(table)} LIMIT 1`,
    );
    return found.length > 0;
  }

  /** A new aggregation, or derived table, whose source holds rows: created and filled. */
  async fillNew(d: Ddl): Promise<Planned | undefined> {
    const agg = this.model.aggregations[d.name];
    const derived = this.model.tables[d.name];
    const from = agg?.from ?? (derived && !isReadingsTable(derived) ? derived.from : undefined);
    if (!from || !await this.hasRows(from)) return undefined;
    if (agg) return await fillStep(this, d.name, "fill", undefined, d.sql);
    return fillDerivedStep(this, d, from);
  }

  async count(source: ChunkSource, prefix: string) {
    const chunks = await listChunks(this.conn, source, this.options);
    return {
      total: chunks.length,
      done: chunks.filter((c) => this.marks.has(`${prefix}:${c.id}`)).length,
    };
  }
}
