/**
 * Compares existing tables and views with what a spec declares. ClickHouse normalizes DDL
 * (types, keys, TTL, default settings), so the declared table is created under a scratch name,
 * read back from the system tables in ClickHouse's own canonical form, and dropped; views are
 * compared through formatQuerySingleLine(). Nothing existing is altered.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { createTable, q } from "./ddl.ts";
import type { Ddl, Target } from "./ddl.ts";

interface TableInfo {
  engine: string;
  engine_full: string;
  sorting_key: string;
  partition_key: string;
  as_select: string;
}

interface ColumnInfo {
  name: string;
  type: string;
  default_kind: string;
  default_expression: string;
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

function tableInfo(c: ClickHouseClient, database: string, name: string) {
  return select<TableInfo>(
    c,
    "SELECT engine, engine_full, sorting_key, partition_key, as_select FROM system.tables WHERE database = {d:String} AND name = {n:String}",
    { d: database, n: name },
  );
}

function columnInfo(c: ClickHouseClient, database: string, name: string) {
  return select<ColumnInfo>(
    c,
    "SELECT name, type, default_kind, default_expression FROM system.columns WHERE database = {d:String} AND table = {n:String} ORDER BY position",
    { d: database, n: name },
  );
}

/** One line per difference, `table: what differs`; empty when everything matches or is new. */
export async function driftOf(c: ClickHouseClient, target: Target, ddl: Ddl[]): Promise<string[]> {
  const problems: string[] = [];
  for (const d of ddl) {
    if (d.kind === "database") continue;
    const [existing] = await tableInfo(c, target.database, d.name);
    if (!existing) continue;
    if (d.kind === "view") {
      const [{ f } = { f: "" }] = await select<{ f: string }>(
        c,
        "SELECT formatQuerySingleLine({s:String}) AS f",
        { s: d.select },
      );
      if (existing.as_select !== f) {
        problems.push(
          `${d.name}: the view selects\n    ${existing.as_select}\n    the spec says\n    ${f}`,
        );
      }
      continue;
    }
    const scratch = `__spec_check_${d.name}_${crypto.randomUUID().slice(0, 8)}`;
    await c.command({ query: createTable({ database: target.database }, scratch, d.shape!) });
    try {
      const [declared] = await tableInfo(c, target.database, scratch);
      problems.push(...compareColumns(
        d.name,
        await columnInfo(c, target.database, d.name),
        await columnInfo(c, target.database, scratch),
      ));
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
      } else if (existing.engine_full !== declared!.engine_full) {
        problems.push(
          `${d.name}: engine, keys, TTL or settings are\n    ${existing.engine_full}\n    the spec says\n    ${
            declared!.engine_full
          }`,
        );
      }
    } finally {
      await c.command({ query: `DROP TABLE IF EXISTS ${q(target.database)}.${q(scratch)} SYNC` });
    }
  }
  return problems;
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
    byName.delete(want.name);
  }
  for (const extra of byName.keys()) out.push(`${table}: column ${extra} is not in the spec`);
  return out;
}
