/**
 * Compares existing tables and views with what a spec declares. ClickHouse normalizes DDL
 * (types, keys, TTL, default settings), so the declared table is created under a scratch name,
 * read back from the system tables in ClickHouse's own canonical form, and dropped; views are
 * compared through formatQuerySingleLine(). Nothing existing is altered.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { BATCH_FIELDS, createTable, literal, onCluster, q } from "./ddl.ts";
import type { Ddl, TableShape, Target } from "./ddl.ts";
import { keptText } from "./insert.ts";
import { localName } from "./cluster.ts";
import { clausesOf, settingsOf } from "./_clauses.ts";

export interface TableInfo {
  engine: string;
  engine_full: string;
  sorting_key: string;
  partition_key: string;
  primary_key: string;
  sampling_key: string;
  as_select: string;
}

export interface ColumnInfo {
  name: string;
  type: string;
  default_kind: string;
  default_expression: string;
  /** `CODEC(…)`, or "" for the table's default compression. */
  compression_codec: string;
}

/**
 * A declared table or view against what exists under its name, both in ClickHouse's canonical
 * forms: `existing` is absent for what is new; tables carry the declared definition read back
 * from a scratch copy (`declared`, `want`) beside the existing one (`have`).
 */
export interface Inspection {
  ddl: Ddl;
  existing?: TableInfo;
  /** Views: the spec's SELECT as ClickHouse formats it. */
  select?: string;
  declared?: TableInfo;
  have?: ColumnInfo[];
  want?: ColumnInfo[];
  /** Distributed tables: what differs, if anything. */
  problem?: string;
}

async function select<T>(
  c: ClickHouseClient,
  sql: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  return await (await c.query({ query: sql, query_params: params, format: "JSONEachRow" })).json<
    T
  >();
}

export function tableInfo(c: ClickHouseClient, database: string, name: string) {
  return select<TableInfo>(
    c,
    "SELECT engine, engine_full, sorting_key, partition_key, primary_key, sampling_key, as_select FROM system.tables WHERE database = {d:String} AND name = {n:String}",
    { d: database, n: name },
  );
}

export function columnInfo(c: ClickHouseClient, database: string, name: string) {
  return select<ColumnInfo>(
    c,
    "SELECT name, type, default_kind, default_expression, compression_codec FROM system.columns WHERE database = {d:String} AND table = {n:String} ORDER BY position",
    { d: database, n: name },
  );
}

/** One line per difference, `table: what differs`; empty when everything matches or is new. */
export async function driftOf(c: ClickHouseClient, target: Target, ddl: Ddl[]): Promise<string[]> {
  return problemsOf(target, await inspect(c, target, ddl));
}

/** Every declared table and view (not the database) against what exists. Nothing is altered. */
export async function inspect(
  c: ClickHouseClient,
  target: Target,
  ddl: Ddl[],
): Promise<Inspection[]> {
  const out: Inspection[] = [];
  for (const d of ddl) {
    if (d.kind === "database") continue;
    const [existing] = await tableInfo(c, target.database, d.name);
    if (!existing) {
      out.push({ ddl: d });
    } else if (d.kind === "distributed") {
      out.push({ ddl: d, existing, problem: await distributedDrift(c, d, existing) });
    } else if (d.kind === "view") {
      const [{ f } = { f: "" }] = await select<{ f: string }>(
        c,
        "SELECT formatQuerySingleLine({s:String}) AS f",
        { s: d.select },
      );
      out.push({ ddl: d, existing, select: f });
    } else {
      out.push({ ddl: d, existing, ...await declaredTable(c, target, d) });
    }
  }
  return out;
}

/** The declared table as ClickHouse canonicalizes it: created under a scratch name, read, dropped. */
async function declaredTable(c: ClickHouseClient, target: Target, d: Ddl) {
  const scratch = `__spec_check_${d.name}_${crypto.randomUUID().slice(0, 8)}`;
  await c.command({ query: createTable({ database: target.database }, scratch, d.shape!) });
  try {
    const [declared] = await tableInfo(c, target.database, scratch);
    const have = await columnInfo(c, target.database, d.name);
    const want = await columnInfo(c, target.database, scratch);
    return { declared: declared!, have, want };
  } finally {
    await c.command({ query: `DROP TABLE IF EXISTS ${q(target.database)}.${q(scratch)} SYNC` });
  }
}

/** The differences of inspected tables and views, one line each, as people read them. */
export function problemsOf(target: Target, inspections: Inspection[]): string[] {
  const problems: string[] = [];
  for (const { ddl: d, existing, select, declared, have, want, problem } of inspections) {
    if (!existing) continue;
    if (d.kind === "distributed") {
      if (problem) problems.push(problem);
      continue;
    }
    if (d.kind === "view") {
      if (existing.as_select !== select) {
        problems.push(
          `${d.name}: the view selects\n    ${existing.as_select}\n    the spec says\n    ${select}`,
        );
      }
      continue;
    }
    const migration = columnMigration(
      `${q(target.database)}.${q(d.name)}${onCluster(target)}`,
      have!,
      want!,
      d.shape,
    );
    if (migration) problems.push(`${d.name}: ${migration.message}`);
    const rest = (cs: ColumnInfo[]) => cs.filter((c) => !migration?.columns.has(c.name));
    problems.push(...compareColumns(d.name, rest(have!), rest(want!)));
    const strip = (e: string) => e.replace(/^Replicated/, "");
    if (target.cluster) {
      for (const key of ["sorting_key", "partition_key"] as const) {
        if (existing[key] !== declared![key]) {
          problems.push(
            `${d.name}: ${key.replace("_", " ")} is (${existing[key]}), the spec says (${
              declared![key]
            })`,
          );
        }
      }
      if (strip(existing.engine) !== strip(declared!.engine)) {
        problems.push(
          `${d.name}: engine is ${existing.engine}, the spec says ${declared!.engine}`,
        );
      }
    } else if (!sameEngine(existing.engine_full, declared!.engine_full)) {
      problems.push(
        `${d.name}: engine, keys, TTL or settings are\n    ${existing.engine_full}\n    the spec says\n    ${
          declared!.engine_full
        }`,
      );
    }
  }
  return problems;
}

/**
 * Whether two `engine_full`s say the same: clause for clause, settings in any order (ClickHouse
 * appends a setting changed by ALTER … MODIFY SETTING at the end).
 */
export function sameEngine(a: string, b: string): boolean {
  if (a === b) return true;
  const [x, y] = [clausesOf(a), clausesOf(b)];
  const sx = settingsOf(x.SETTINGS);
  const sy = settingsOf(y.SETTINGS);
  delete x.SETTINGS;
  delete y.SETTINGS;
  return JSON.stringify(x) === JSON.stringify(y) && sx.size === sy.size &&
    [...sx].every(([k, v]) => sy.get(k) === v);
}

/**
 * A cluster's Distributed table against the spec: a table of another engine under its name (a
 * database from a single server), or another cluster, table or sharding key. Rows already stored
 * are placed by the old key, so a new key means copying them into new tables.
 */
async function distributedDrift(
  c: ClickHouseClient,
  d: Ddl,
  existing: TableInfo,
): Promise<string | undefined> {
  if (existing.engine !== "Distributed") {
    return `${d.name}: is a ${existing.engine} table; on a cluster the spec puts a Distributed table here, in front of ${
      localName(d.name)
    }: create the pipeline's tables in a new database and copy the rows with INSERT INTO … SELECT`;
  }
  // Both sides in ClickHouse's own formatting.
  const [{ f } = { f: "" }] = await select<{ f: string }>(
    c,
    "SELECT formatQuerySingleLine({s:String}) AS f",
    { s: `CREATE TABLE _ (_ UInt8) ENGINE = ${d.engine}` },
  );
  const want = f.slice(f.indexOf(" ENGINE = ") + " ENGINE = ".length);
  if (existing.engine_full === want) return undefined;
  return `${d.name}: is ${existing.engine_full}, the spec says ${want}; rows already stored are placed by the old key and table: copy them into new tables with INSERT INTO … SELECT rather than altering this one`;
}

/**
 * Columns a table stores per row that the spec keeps once per batch (an older model stored the
 * Historian's echoed options on every row): the statements that migrate the table in place,
 * each row keeping its values, in the JSON form the ALIAS columns read.
 */
export function perBatchMigration(
  table: string,
  existing: ColumnInfo[],
  declared: ColumnInfo[],
): { message: string; columns: Set<string>; statements: string[] } | undefined {
  if (existing.some((c) => c.name === BATCH_FIELDS)) return undefined;
  const byName = new Map(existing.map((c) => [c.name, c]));
  const moved = declared.filter((w) =>
    w.default_kind === "ALIAS" && w.default_expression.includes(BATCH_FIELDS) &&
    byName.get(w.name)?.default_kind === ""
  );
  const holder = declared.find((w) => w.name === BATCH_FIELDS);
  if (moved.length === 0 || !holder) return undefined;
  // As the sink writes it (insert.ts, batchFieldsJson): NaN and infinities as strings, which
  // toJSONString alone would turn into null.
  const value = (m: ColumnInfo) => {
    const v = `assumeNotNull(${q(m.name)})`;
    const json = /Float/.test(m.type)
      ? `if(isFinite(${v}), toJSONString(${v}), concat('"', toString(${v}), '"'))`
      : `toJSONString(${v})`;
    return `if(isNull(${q(m.name)}), 'null', ${json})`;
  };
  const json = `concat('{', ${
    moved.map((m) => `${literal(`${JSON.stringify(m.name)}:`)}, ${value(m)}`).join(", ',', ")
  }, '}')`;
  const statements = [
    `ALTER TABLE ${table} ADD COLUMN ${q(BATCH_FIELDS)} ${holder.type} DEFAULT ${json}`,
    `ALTER TABLE ${table} MATERIALIZE COLUMN ${q(BATCH_FIELDS)} SETTINGS mutations_sync = 2`,
    `ALTER TABLE ${table} MODIFY COLUMN ${q(BATCH_FIELDS)} REMOVE DEFAULT`,
    `ALTER TABLE ${table} ${moved.map((m) => `DROP COLUMN ${q(m.name)}`).join(", ")}`,
    `ALTER TABLE ${table} ${
      moved.map((m) => `ADD COLUMN ${q(m.name)} ${m.type} ALIAS ${m.default_expression}`).join(", ")
    }`,
  ];
  return {
    message: `${moved.length} columns stored here per row are kept once per batch by the spec (${
      moved.map((m) => m.name).join(", ")
    }): migrate moves them in place, every row keeping its values (the plan's statements)`,
    columns: new Set([BATCH_FIELDS, ...moved.map((m) => m.name)]),
    statements,
  };
}

/**
 * Columns a table stores that the spec computes from others (`stored: alias`, `unless_value`:
 * an older model stored StartDateTime and vValue on every row): the statements that migrate the
 * table in place. An alias's stored copy is dropped (the spec says it held the same part of the
 * reading as the column it now reads); an `unless_value` column's texts are first copied into
 * the column that keeps them, except where they are their row's number's text.
 */
export function computedMigration(
  table: string,
  existing: ColumnInfo[],
  declared: ColumnInfo[],
  shape: TableShape | undefined,
): { message: string; columns: Set<string>; statements: string[] } | undefined {
  const have = new Map(existing.map((c) => [c.name, c]));
  const stored = (name: string) => {
    const c = have.get(name);
    return c !== undefined && c.default_kind !== "ALIAS" && c.default_kind !== "EPHEMERAL";
  };
  const statements: string[] = [];
  const columns = new Set<string>();
  const said: string[] = [];
  /** `AFTER <the declared column before name>`, where that one exists by then. */
  const after = (name: string) => {
    const i = declared.findIndex((c) => c.name === name);
    const before = declared[i - 1]?.name;
    return before && (have.has(before) || columns.has(before)) ? ` AFTER ${q(before)}` : "";
  };
  for (const [name, how] of Object.entries(shape?.computed ?? {})) {
    const w = declared.find((c) => c.name === name);
    if (!w || !stored(name)) continue;
    if ("alias" in how) {
      columns.add(name);
      statements.push(
        `ALTER TABLE ${table} DROP COLUMN ${q(name)}`,
        `ALTER TABLE ${table} ADD COLUMN ${q(name)} ${w.type} ALIAS ${w.default_expression}${
          after(name)
        }`,
      );
      said.push(`${name} is read from ${how.alias} (its stored copy is dropped)`);
      continue;
    }
    const text = declared.find((c) => c.name === how.text);
    if (!text || have.has(how.text)) continue;
    columns.add(how.text).add(name);
    statements.push(
      `ALTER TABLE ${table} ADD COLUMN ${q(how.text)} ${text.type} DEFAULT ${
        keptText(name, how.value)
      }${text.compression_codec ? ` ${text.compression_codec}` : ""}${after(how.text)}`,
      `ALTER TABLE ${table} MATERIALIZE COLUMN ${q(how.text)} SETTINGS mutations_sync = 2`,
      `ALTER TABLE ${table} MODIFY COLUMN ${q(how.text)} REMOVE DEFAULT`,
      `ALTER TABLE ${table} DROP COLUMN ${q(name)}`,
      `ALTER TABLE ${table} ADD COLUMN ${q(name)} ${w.type} ALIAS ${w.default_expression} AFTER ${
        q(how.text)
      }`,
    );
    said.push(
      `${name} keeps in ${how.text} only the texts that are not the row's ${how.value} written out (every row reads the same)`,
    );
  }
  if (statements.length === 0) return undefined;
  return { message: said.join("; "), columns, statements };
}

/** Every in-place migration of a table's columns (per-batch fields, computed columns) together. */
export function columnMigration(
  table: string,
  existing: ColumnInfo[],
  declared: ColumnInfo[],
  shape: TableShape | undefined,
): { message: string; columns: Set<string>; statements: string[] } | undefined {
  const computed = computedMigration(table, existing, declared, shape);
  const parts = [
    perBatchMigration(table, existing, declared),
    computed && {
      ...computed,
      message: `${computed.message}: migrate changes this in place (the plan's statements)`,
    },
  ].filter((m) => m !== undefined);
  if (parts.length === 0) return undefined;
  return {
    message: parts.map((m) => m.message).join("; "),
    columns: new Set(parts.flatMap((m) => [...m.columns])),
    statements: parts.flatMap((m) => m.statements),
  };
}

function compareColumns(table: string, existing: ColumnInfo[], declared: ColumnInfo[]): string[] {
  const out: string[] = [];
  const byName = new Map(existing.map((c) => [c.name, c]));
  for (const want of declared) {
    const have = byName.get(want.name);
    if (!have) {
      out.push(`${table}: column ${want.name} is missing`);
      continue;
    }
    if (have.type !== want.type) {
      out.push(`${table}: column ${want.name} is ${have.type}, the spec says ${want.type}`);
    }
    if (
      have.default_kind !== want.default_kind || have.default_expression !== want.default_expression
    ) {
      out.push(
        `${table}: column ${want.name} defaults to ${
          have.default_expression || "nothing"
        }, the spec says ${want.default_expression || "nothing"}`,
      );
    }
    if (have.compression_codec !== want.compression_codec) {
      out.push(
        `${table}: column ${want.name} is compressed with ${
          have.compression_codec || "the default codec"
        }, the spec says ${want.compression_codec || "the default codec"}`,
      );
    }
    byName.delete(want.name);
  }
  for (const extra of byName.keys()) out.push(`${table}: column ${extra} is not in the spec`);
  return out;
}
