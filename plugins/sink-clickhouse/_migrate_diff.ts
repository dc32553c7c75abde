/**
 * What differs between an existing table and the spec's, as ALTER statements where ClickHouse
 * changes it in place (TTL, settings, new columns, a column's type, default or codec) and as
 * reasons to rebuild where it cannot (the engine, a key, the partitioning, a key column's type).
 * Both sides are ClickHouse's own canonical forms (drift.ts), so the statements use its text.
 */
import { clausesOf, mentions, settingsOf } from "./_clauses.ts";
import type { Clause } from "./_clauses.ts";
import { computedMigration, perBatchMigration } from "./drift.ts";
import type { ColumnInfo, Inspection } from "./drift.ts";
import { BATCH_FIELDS, literal, q } from "./ddl.ts";

/** One ALTER; a type change first checks that every stored value converts (`probe`). */
export interface Alter {
  sql: string;
  probe?: { column: string; from: string; to: string };
}

export interface TableDiff {
  /** What differs, one line each. */
  changes: string[];
  alters: Alter[];
  /** Why the table cannot change in place (empty: it can). */
  rebuild: string[];
  /** Columns whose stored values the change discards. */
  loses: string[];
  /** Columns added (an aggregation's new columns are filled by recomputing its buckets). */
  added: string[];
}

/** Settings ClickHouse fixes at CREATE (READONLY_SETTING on ALTER). */
const FIXED_SETTINGS = new Set(["index_granularity", "index_granularity_bytes"]);
const KEYS: [Clause, string][] = [
  ["PARTITION BY", "partition key"],
  ["PRIMARY KEY", "primary key"],
  ["ORDER BY", "sort key"],
  ["SAMPLE BY", "sampling key"],
];

/** `table` is the quoted name with its ON CLUSTER, as ALTER takes it. */
export function tableDiff(table: string, ins: Inspection): TableDiff {
  const diff: TableDiff = { changes: [], alters: [], rebuild: [], loses: [], added: [] };
  const have = clausesOf(ins.existing!.engine_full);
  const want = clausesOf(ins.declared!.engine_full);
  if (have.engine !== want.engine) {
    diff.rebuild.push(`engine is ${have.engine}, the spec says ${want.engine}`);
  }
  for (const [clause, what] of KEYS) {
    if ((have[clause] ?? "") !== (want[clause] ?? "")) {
      diff.rebuild.push(
        `${what} is ${have[clause] ?? "none"}, the spec says ${want[clause] ?? "none"}`,
      );
    }
  }
  ttl(table, have.TTL, want.TTL, diff);
  settings(table, settingsOf(have.SETTINGS), settingsOf(want.SETTINGS), diff);
  const keys = [ins.existing!.sorting_key, ins.existing!.partition_key, ins.existing!.primary_key];
  columns(table, ins, keys, diff);
  return diff;
}

function ttl(table: string, have: string | undefined, want: string | undefined, diff: TableDiff) {
  if (have === want) return;
  // The stored parts' TTL is recalculated (and applied) by a background mutation: rows kept
  // longer stay, rows past a shorter retention are deleted (materialize_ttl_after_modify).
  diff.changes.push(
    `retention (TTL) is ${have ?? "none"}, the spec says ${want ?? "none"} (stored parts are ` +
      "re-evaluated by a background mutation, see system.mutations)",
  );
  diff.alters.push({
    sql: want ? `ALTER TABLE ${table} MODIFY TTL ${want}` : `ALTER TABLE ${table} REMOVE TTL`,
  });
}

function settings(
  table: string,
  have: Map<string, string>,
  want: Map<string, string>,
  diff: TableDiff,
) {
  const set: string[] = [];
  const reset: string[] = [];
  for (const [k, v] of want) {
    if (have.get(k) === v) continue;
    if (FIXED_SETTINGS.has(k)) {
      diff.rebuild.push(`setting ${k} is ${have.get(k) ?? "the default"}, the spec says ${v}`);
      continue;
    }
    diff.changes.push(`setting ${k} is ${have.get(k) ?? "the default"}, the spec says ${v}`);
    set.push(`${k} = ${v}`);
  }
  for (const [k, v] of have) {
    if (want.has(k)) continue;
    if (FIXED_SETTINGS.has(k)) {
      diff.rebuild.push(`setting ${k} is ${v}, the spec leaves it to the default`);
      continue;
    }
    diff.changes.push(`setting ${k} is ${v}, the spec leaves it to the default`);
    reset.push(k);
  }
  if (set.length) {
    diff.alters.push({ sql: `ALTER TABLE ${table} MODIFY SETTING ${set.join(", ")}` });
  }
  if (reset.length) {
    diff.alters.push({ sql: `ALTER TABLE ${table} RESET SETTING ${reset.join(", ")}` });
  }
}

/** A column's definition as ALTER takes it: type, default (or ALIAS …), codec. */
export function columnDefinition(c: ColumnInfo): string {
  return `${q(c.name)} ${c.type}${
    c.default_kind ? ` ${c.default_kind} ${c.default_expression}` : ""
  }${c.compression_codec ? ` ${c.compression_codec}` : ""}`;
}

/** Whether a column holds stored values (not computed on read). */
export const isStored = (c: ColumnInfo) =>
  c.default_kind !== "ALIAS" && c.default_kind !== "EPHEMERAL";

function columns(table: string, ins: Inspection, keys: string[], diff: TableDiff) {
  const [have, want] = [ins.have!, ins.want!];
  const alter = (sql: string, probe?: Alter["probe"]) =>
    diff.alters.push({ sql: `ALTER TABLE ${table} ${sql}`, probe });
  // An older model's per-row copies of per-batch fields: moved in place by its own statements.
  const batch = perBatchMigration(table, have, want);
  if (batch) {
    const names = [...batch.columns].filter((c) => c !== BATCH_FIELDS);
    diff.changes.push(
      `${names.length} columns stored per row are kept once per batch by the spec (${
        names.join(", ")
      }): moved into ${BATCH_FIELDS}, every row keeping its values`,
    );
    diff.alters.push(...batch.statements.map((sql) => ({ sql })));
  }
  // Stored columns the spec computes (StartDateTime, vValue): changed by their own statements.
  const computed = computedMigration(table, have, want, ins.ddl.shape);
  if (computed) {
    diff.changes.push(computed.message);
    diff.alters.push(...computed.statements.map((sql) => ({ sql })));
  }
  const moved = batch || computed
    ? { columns: new Set([...batch?.columns ?? [], ...computed?.columns ?? []]) }
    : undefined;
  const skip = (c: ColumnInfo) => moved?.columns.has(c.name) ?? false;
  const byName = new Map(have.filter((c) => !skip(c)).map((c) => [c.name, c]));
  let before: string | undefined;
  for (const w of want) {
    if (skip(w)) {
      before = w.name;
      continue;
    }
    const h = byName.get(w.name);
    byName.delete(w.name);
    if (!h) {
      diff.changes.push(`column ${w.name} ${w.type} is new`);
      diff.added.push(w.name);
      alter(`ADD COLUMN ${columnDefinition(w)} ${before ? `AFTER ${q(before)}` : "FIRST"}`);
      before = w.name;
      continue;
    }
    before = w.name;
    const key = keys.some((k) => mentions(k, w.name));
    if (h.type !== w.type) {
      if (key && isStored(h)) {
        diff.rebuild.push(`column ${w.name} is ${h.type}, the spec says ${w.type}: a key column`);
        continue;
      }
      diff.changes.push(`column ${w.name} is ${h.type}, the spec says ${w.type}`);
    }
    if (isStored(h) !== isStored(w)) {
      if (isStored(w)) {
        // Computed until now: its values are computed once more, into the new table.
        diff.rebuild.push(
          `column ${w.name} is computed (${h.default_kind} ${h.default_expression}), the spec stores it`,
        );
        continue;
      }
      diff.changes.push(
        `column ${w.name} is stored, the spec computes it (${w.default_expression})`,
      );
      diff.loses.push(w.name);
    } else if (h.default_kind !== w.default_kind || h.default_expression !== w.default_expression) {
      diff.changes.push(
        `column ${w.name} defaults to ${h.default_expression || "nothing"}, the spec says ${
          w.default_expression || "nothing"
        }`,
      );
    }
    if (h.compression_codec !== w.compression_codec) {
      diff.changes.push(
        `column ${w.name} is compressed with ${
          h.compression_codec || "the default codec"
        }, the spec says ${
          w.compression_codec || "the default codec"
        } (parts take it as they are merged; OPTIMIZE TABLE … FINAL rewrites them now)`,
      );
    }
    modifyColumn(h, w, alter);
  }
  for (const extra of byName.values()) {
    diff.changes.push(`column ${extra.name} is not in the spec`);
    if (isStored(extra)) diff.loses.push(extra.name);
    alter(`DROP COLUMN ${q(extra.name)}`);
  }
}

/** The statements that turn column `h` into `w` in place (nothing when they are the same). */
function modifyColumn(
  h: ColumnInfo,
  w: ColumnInfo,
  alter: (sql: string, probe?: Alter["probe"]) => void,
) {
  const retype = h.type !== w.type;
  const redefault = h.default_kind !== w.default_kind ||
    h.default_expression !== w.default_expression;
  const recodec = h.compression_codec !== w.compression_codec;
  if (!retype && !redefault && !recodec) return;
  if (retype || (redefault && w.default_kind) || (recodec && w.compression_codec)) {
    // A stored column's new type rewrites its values (a mutation, waited for): checked first,
    // because a value that does not convert leaves the mutation failing for good.
    const rewrites = retype && isStored(h) && isStored(w);
    alter(
      `MODIFY COLUMN ${columnDefinition(w)}${rewrites ? " SETTINGS mutations_sync = 2" : ""}`,
      rewrites ? { column: w.name, from: h.type, to: w.type } : undefined,
    );
  }
  if (redefault && !w.default_kind && h.default_kind) {
    alter(`MODIFY COLUMN ${q(w.name)} REMOVE ${h.default_kind}`);
  }
  if (recodec && !w.compression_codec) alter(`MODIFY COLUMN ${q(w.name)} REMOVE CODEC`);
}

/**
 * Counts stored values of `column` that `to` cannot hold (a number out of range or with a
 * fraction an integer would drop, text that is no number, NULL where the spec allows none).
 */
export function probeSql(db: string, table: string, column: string, to: string): string {
  const nullable = /^(LowCardinality\()?Nullable\(/.test(to.trim());
  const inner = to.trim().replace(/^LowCardinality\((.*)\)$/, "$1").replace(
    /^Nullable\((.*)\)$/,
    "$1",
  );
  const c = q(column);
  const fits = `accurateCastOrNull(${c}, ${literal(inner)}) IS NOT NULL`;
  return `SELECT count() AS n, toString(any(${c})) AS example FROM ${db}.${q(table)} WHERE ${
    nullable ? `${c} IS NOT NULL AND NOT ${fits}` : `NOT ${fits}`
  }`;
}
