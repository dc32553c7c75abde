/**
 * Runs parsed statements against a catalog of tables, streaming rows as TDS result events.
 * Expressions follow SQL Server's rules where clients can tell the difference: three-valued
 * logic with NULL, case-insensitive string comparison (the CI collation), implicit conversion
 * of text to numbers and datetimes, LIKE with % _ and [..].
 */
import { TdsError } from "../tds/server.ts";
import type { ResultEvent } from "../tds/server.ts";
import { SqlTime } from "../tds/types.ts";
import type { Column, SqlValue } from "../tds/types.ts";
import type { Expr, Select, Statement } from "./parse.ts";
import { compare, compile, typeOf } from "./expr.ts";
import type { Compiled } from "./expr.ts";

export { compile, parseSqlTime } from "./expr.ts";
export type { Compiled } from "./expr.ts";

const MAX_SORTED_ROWS = 1_000_000;

/** A table the simulator serves. `where` is offered so a table can plan (History must). */
export interface Table {
  name: string;
  columns: Column[];
  rows(
    where: Expr | undefined,
    env: Env,
    signal: AbortSignal,
  ): Iterable<SqlValue[]> | AsyncIterable<SqlValue[]>;
}

export interface Env {
  params: Map<string, SqlValue>;
  /** The server's clock: UTC and its own local time. */
  nowUtc(): SqlTime;
  nowLocal(): SqlTime;
  version: string;
}

export interface Catalog {
  table(parts: string[]): Table | undefined;
  /** A database's own spelling when the server has it (names compare case-insensitively). */
  database(name: string): string | undefined;
}

/** Streams the results of a batch of statements. */
export async function* runStatements(
  statements: Statement[],
  catalog: Catalog,
  env: Env,
  signal: AbortSignal,
): AsyncIterable<ResultEvent> {
  for (const s of statements) {
    if (s.k === "set") continue;
    if (s.k === "use") {
      const database = catalog.database(s.database);
      if (!database) {
        throw new TdsError(
          911,
          `Database '${s.database}' does not exist. Make sure that the name is entered correctly.`,
        );
      }
      yield { database };
      continue;
    }
    yield* runSelect(s, catalog, env, signal);
  }
}

/** The result's column metadata: names, types and lengths as SQL Server describes them. */
function resultColumns(
  items: { e: Expr; alias?: string }[],
  source: readonly Column[],
  env: Env,
): Column[] {
  return items.map((item) => {
    const type = typeOf(item.e, source, env);
    const name = item.alias ?? (item.e.k === "col" ? item.e.name : "");
    const col = item.e.k === "col"
      ? source.find((c) => c.name.toLowerCase() === (item.e as { name: string }).name.toLowerCase())
      : undefined;
    return { name, type, length: col?.length ?? (type === "nvarchar" ? 4000 : undefined) };
  });
}

async function* runSelect(
  s: Select,
  catalog: Catalog,
  env: Env,
  signal: AbortSignal,
): AsyncIterable<ResultEvent> {
  const table = s.from ? catalog.table(s.from) : undefined;
  if (s.from && !table) throw new TdsError(208, `Invalid object name '${s.from.join(".")}'.`, 16);
  const source = table?.columns ?? [];
  const where = s.where ? compile(s.where, source, env) : undefined;
  const aggregate = s.groupBy !== undefined ||
    (s.items?.some((i) => i.e.k === "call" && i.e.name === "COUNT") ?? false);
  if (aggregate) checkGrouped(s);
  const items = s.items ??
    source.map((c) => ({ e: { k: "col", name: c.name } as Expr, alias: c.name }));
  if (!table && !s.items) throw new TdsError(263, "Must specify table to select from.", 16);
  const columns = resultColumns(items, source, env);
  const project = aggregate ? [] : items.map((item) => compile(item.e, source, env));
  const order = s.orderBy?.map((o) => ({ f: compile(o.e, source, env), desc: o.desc }));

  yield { columns };
  if (!table) {
    if (!where || where([]) === true) {
      yield { row: project.map((f) => f([])) };
      yield { done: 1 };
    } else yield { done: 0 };
    return;
  }
  if (s.top === 0) {
    yield { done: 0 };
    return;
  }
  const rows = table.rows(s.where, env, signal);
  if (aggregate) {
    yield* counted(s, items, rows, { where, source, env, signal });
    return;
  }
  if (order) {
    const kept: SqlValue[][] = [];
    for await (const row of rows) {
      if (signal.aborted) return;
      if (where && where(row) !== true) continue;
      kept.push(row);
      if (kept.length > MAX_SORTED_ROWS) {
        throw new TdsError(
          50000,
          `The simulator sorts at most ${MAX_SORTED_ROWS} rows; drop ORDER BY or narrow the query.`,
        );
      }
    }
    kept.sort((a, b) => {
      for (const o of order) {
        const c = compare(o.f(a), o.f(b)) ??
          ((o.f(a) === null ? -1 : 0) - (o.f(b) === null ? -1 : 0));
        if (c !== 0) return o.desc ? -c : c;
      }
      return 0;
    });
    const limit = s.top ?? kept.length;
    for (const row of kept.slice(0, limit)) yield { row: project.map((f) => f(row)) };
    yield { done: Math.min(limit, kept.length) };
    return;
  }
  let n = 0;
  for await (const row of rows) {
    if (signal.aborted) return;
    if (where && where(row) !== true) continue;
    yield { row: project.map((f) => f(row)) };
    if (++n === s.top) break;
  }
  yield { done: n };
}

const isCount = (e: Expr) => e.k === "call" && e.name === "COUNT";
const sameColumn = (a: Expr, b: Expr) =>
  a.k === "col" && b.k === "col" && a.name.toLowerCase() === b.name.toLowerCase();

/** Msg 8120 for a select-list item that is neither counted, a literal, nor grouped by. */
function checkGrouped(s: Select) {
  const grouped = s.groupBy ?? [];
  const bad = (s.items ?? [{ e: { k: "col", name: "*" } as Expr }]).some((i) =>
    !isCount(i.e) && i.e.k !== "lit" && !grouped.some((g) => sameColumn(g, i.e))
  );
  if (bad) {
    throw new TdsError(
      8120,
      "Column is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.",
      16,
    );
  }
}

/** COUNT(*) / COUNT(expr), overall or per GROUP BY key, in first-seen order of the keys. */
async function* counted(
  s: Select,
  items: { e: Expr }[],
  rows: Iterable<SqlValue[]> | AsyncIterable<SqlValue[]>,
  q: { where?: Compiled; source: readonly Column[]; env: Env; signal: AbortSignal },
): AsyncIterable<ResultEvent> {
  const counters = items.map((item) =>
    item.e.k === "call" && item.e.args[0] ? compile(item.e.args[0], q.source, q.env) : undefined
  );
  const keys = (s.groupBy ?? []).map((g) => compile(g, q.source, q.env));
  const groups = new Map<string, { key: SqlValue[]; counts: number[] }>();
  for await (const row of rows) {
    if (q.signal.aborted) return;
    if (q.where && q.where(row) !== true) continue;
    const key = keys.map((k) => k(row));
    // Grouping follows the CI collation: text keys compare case-insensitively.
    const id = JSON.stringify(
      key.map((v) => (typeof v === "string" ? v.toLowerCase() : String(v))),
    );
    let group = groups.get(id);
    if (!group) groups.set(id, group = { key, counts: items.map(() => 0) });
    counters.forEach((c, i) => {
      if (!c || c(row) !== null) group!.counts[i]!++;
    });
  }
  if (keys.length === 0 && groups.size === 0) {
    groups.set("", {
      key: [],
      counts: items.map(() => 0),
    });
  }
  for (const { key, counts } of groups.values()) {
    yield {
      row: items.map((item, i) => {
        if (item.e.k === "lit") return item.e.v;
        if (isCount(item.e)) return counts[i]!;
        return key[s.groupBy!.findIndex((g) => sameColumn(g, item.e))]!;
      }),
    };
  }
  yield { done: groups.size };
}
