/**
 * Schema changes on live tables, as a sink plans and applies them (`provides: ["migrate"]`):
 * the plan is data (one step per table or view, each with what differs and the exact statements
 * that bring it to the spec), printed the same way by `migrate`, by `validate --connect` and in
 * the refusal `run` gives when the tables differ from the spec.
 */
import type { StorageModel } from "./spec/storage.ts";

/** One table or view of the plan and how it is brought to the spec. */
export interface MigrationStep {
  /** The table or view, as the store names it. */
  name: string;
  /** Where the spec declares it (`["tables", "X"]`), for messages at its line; [] for the sink's own. */
  path: (string | number)[];
  /**
   * - `create`: new, with nothing stored to fill it from (`run` creates it too);
   * - `alter`: changed in place;
   * - `view`: a materialized view dropped and created again with the spec's SELECT;
   * - `fill`: an aggregation created (or changed) and filled from the rows already stored;
   * - `rebuild`: cannot change in place: a new table, filled in chunks, exchanged, the old dropped;
   * - `manual`: migrate cannot do it; `changes` say what to do instead.
   */
  action: "create" | "alter" | "view" | "fill" | "rebuild" | "manual";
  /** What differs, one line each. */
  changes: string[];
  /** Statements run once, in order, before any chunk. */
  statements: string[];
  /** Statements run once per chunk (their parameters name the chunk), and how many chunks. */
  chunks?: MigrationChunks;
  /** Statements run once after every chunk is done. */
  then?: string[];
  /** What stored values the step discards; applied only when the caller allows it. */
  loses?: string;
}

export interface MigrationChunks {
  statements: string[];
  /** One chunk's extent, e.g. "50 tags × 1 d". */
  size: string;
  /** Absent when only the store after earlier steps can tell (a rollup of an aggregation being filled). */
  total?: number;
  /** Chunks an interrupted apply finished (recorded in the pipeline state): skipped. */
  done: number;
  /** What the chunks read, for messages. */
  from: string;
}

export interface MigrationPlan {
  /** Where the tables are (a database), for messages. */
  target: string;
  steps: MigrationStep[];
}

/** Progress of an apply, once per statement step and once per chunk. */
export interface MigrationProgress {
  step: MigrationStep;
  /** Chunks of the step finished so far (those skipped included), and of how many. */
  done: number;
  total: number;
  /** Chunks skipped because an interrupted apply had finished them. */
  skipped: number;
  /** Rows written by the step so far. */
  rows: number;
}

export interface MigrateOptions {
  /** Tags per chunk (the spec's chunking.tags_per_query). */
  tagsPerChunk?: number;
  /** Time per chunk in ms (the spec's chunking.window), rounded up to whole buckets. */
  window?: number;
  /** Apply steps that discard stored values (`loses`). */
  allowLoss?: boolean;
  signal?: AbortSignal;
  onProgress?(p: MigrationProgress): void;
}

export interface MigrationResult {
  /** Steps applied, chunks run and chunks skipped (finished by an interrupted apply). */
  steps: number;
  chunks: number;
  skipped: number;
  rows: number;
}

/** `migrate`: what brings existing tables to the spec, and doing it. */
export interface MigrateService {
  plan(model: StorageModel, pipeline: string, options?: MigrateOptions): Promise<MigrationPlan>;
  /** Applies the plan as found now; running it again when nothing differs changes nothing. */
  apply(model: StorageModel, pipeline: string, options?: MigrateOptions): Promise<MigrationResult>;
}

/** Steps `run` cannot take by itself: everything but creating what is new and empty. */
export function pendingSteps(plan: MigrationPlan): MigrationStep[] {
  return plan.steps.filter((s) => s.action !== "create");
}

const ACTIONS: Record<MigrationStep["action"], string> = {
  create: "create (new, nothing stored to fill it from)",
  alter: "alter in place",
  view: "re-create the materialized view",
  fill: "create or change, then fill from the rows already stored",
  rebuild: "rebuild: cannot change in place",
  manual: "by hand: migrate cannot do this",
};

/**
 * The plan as people read it: per step what differs and the exact statements, then how to run
 * it. `command` is how the user runs migrate on this spec (`deno task migrate pipelines/x.yaml`).
 */
export function formatPlan(plan: MigrationPlan, command: string): string {
  const pending = pendingSteps(plan);
  const creates = plan.steps.filter((s) => s.action === "create");
  if (pending.length === 0) {
    return `The tables in ${plan.target} match the spec: nothing to migrate${
      creates.length
        ? ` (${creates.length} new tables, views or databases with nothing stored to fill them from: run creates them, as does --apply)`
        : ""
    }.`;
  }
  const out = [
    `Plan for ${plan.target}: ${pending.length} ${pending.length === 1 ? "change" : "changes"}${
      creates.length ? `, and ${creates.length} new empty tables or views to create` : ""
    }`,
  ];
  const indent = (lines: string[], by: string) => lines.map((l) => `${by}${l}`);
  plan.steps.forEach((s, i) => {
    out.push("", `${i + 1}. ${s.name}: ${ACTIONS[s.action]}`);
    out.push(...indent(s.changes, "   - "));
    if (s.loses) out.push(`   ! discards ${s.loses} (applied only with --allow-loss)`);
    out.push(...indent(s.statements.map((q) => `${q};`), "     "));
    if (s.chunks) {
      const c = s.chunks;
      const count = c.total === undefined
        ? `chunks counted once ${c.from} is filled`
        : `${c.total} ${c.total === 1 ? "chunk" : "chunks"}`;
      out.push(
        `   per chunk of ${c.size} of ${c.from}: ${count}${
          c.done ? `, ${c.done} done by an interrupted apply (skipped)` : ""
        }, each recorded as done in the pipeline state:`,
      );
      out.push(...indent(c.statements.map((q) => `${q};`), "     "));
    }
    if (s.then?.length) {
      out.push("   then:");
      out.push(...indent(s.then.map((q) => `${q};`), "     "));
    }
  });
  const manual = pending.filter((s) => s.action === "manual");
  out.push(
    "",
    manual.length
      ? `${manual.length} ${
        manual.length === 1 ? "step needs" : "steps need"
      } doing by hand first (see above); then: ${command} --apply`
      : `Apply it with: ${command} --apply (stop the pipeline first; an interrupted apply resumes where it stopped)`,
  );
  return out.join("\n");
}
