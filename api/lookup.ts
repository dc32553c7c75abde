/**
 * A route's `lookup`: a small table, such as the asset dimension, joined with the route's result
 * in the API. Its SQL runs in a query of its own and its answer is reused for `memo`; a request
 * keeps the rows whose `match` columns equal the request's parameters (a parameter not given
 * keeps every row). Their keys reach the route's SQL as an Array(String) parameter
 * (`TagName IN {tags:Array(String)}`), so ClickHouse reads the big table by its key and plans
 * one table per request, not two; each result row then gets the lookup's other columns by key.
 * Keys too many for a query parameter (ClickHouse bounds one, and so does the embedded store's
 * URL) make the lookup run inside the route's SQL instead, as a subquery with the same filter in
 * place of the parameter: the same rows, planned more slowly.
 */
import { createMemo } from "./limit.ts";
import type { RouteSpec } from "./spec.ts";
import { code, placeholders } from "./sql_check.ts";

export type LookupSpec = NonNullable<RouteSpec["lookup"]>;

/** A lookup's answer: its rows by key, in the order it gave them. */
export type Found = ReadonlyMap<string, Record<string, unknown>>;

/** A route's lookup as requests meet it: one answer reused for `memo`, the keys each keeps. */
export function createLookup(spec: LookupSpec) {
  const memo = createMemo<Found>(spec.memo, Date.now, 1);
  const inlined = new Map<string, string>();
  return {
    /**
     * The lookup's answer (read with `read` when it is not fresh, or was read for another
     * `version` of the data, such as before the engine rewrote the asset dimension) and the keys
     * `values` keep.
     */
    async keysFor(
      values: Record<string, unknown>,
      read: (sql: string) => Promise<Record<string, unknown>[]>,
      version = "",
    ): Promise<{ found: Found; keys: string[] }> {
      const found = await memo(version, async () => byKey(await read(spec.sql), spec.key));
      return { found, keys: matching(found, spec.match, values) };
    },
    /** `sql` with the lookup inside it, for keys that do not fit a parameter (kept per SQL). */
    inlined(sql: string): string {
      if (!inlined.has(sql)) inlined.set(sql, inlineLookup(sql, spec));
      return inlined.get(sql)!;
    },
  };
}

/** The keys of the rows a request keeps: those whose `match` columns equal its parameters. */
export function matching(
  found: Found,
  match: Record<string, string>,
  values: Record<string, unknown>,
): string[] {
  const wanted = Object.entries(match)
    .map(([column, param]) => [column, values[param]] as const)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([column, v]) => [column, String(v)] as const);
  const keys: string[] = [];
  for (const [key, row] of found) {
    if (wanted.every(([column, v]) => String(row[column]) === v)) keys.push(key);
  }
  return keys;
}

/**
 * The most bytes the keys may take on the URL, encoded as the client sends them. ClickHouse's
 * default limit for a parameter's value is 128 KiB (http_max_field_value_size); the embedded
 * store's front end took 56 KB of keys and refused 112 KB.
 */
export const KEYS_MAX_BYTES = 32 * 1024;

/** Whether `keys` fit one query parameter (as `['a','b']`, URL-encoded). */
export function keysFit(keys: Iterable<string>): boolean {
  let bytes = 2;
  for (const k of keys) {
    bytes += encodeURIComponent(k).length + 9; // quotes and comma, encoded (%27 %27 %2C)
    if (bytes > KEYS_MAX_BYTES) return false;
  }
  return true;
}

/** The lookup's rows by key; an error names the key column when the rows lack it. */
export function byKey(rows: Record<string, unknown>[], key: string): Found {
  const found = new Map<string, Record<string, unknown>>();
  for (const row of rows) {
    if (!(key in row)) {
      throw new Error(`the lookup's rows have no column "${key}" (lookup.key)`);
    }
    found.set(String(row[key]), row);
  }
  return found;
}

/** Where `IN {param:…}` uses the keys in `sql`, and how many placeholders name `param` in all. */
export function keyUses(sql: string, param: string): { asIn: number; all: number } {
  const masked = code(sql);
  const all = placeholders(sql).filter((p) => p.name === param).length;
  const asIn = [...masked.matchAll(new RegExp(`\\bIN\\s*\\{\\s*${param}\\s*:`, "gi"))].length;
  return { asIn, all };
}

/**
 * `sql` with each `{param:Array(String)}` replaced by the lookup as a subquery of the keys a
 * request keeps: its `match` as conditions on the route's (string) parameters.
 */
export function inlineLookup(sql: string, lookup: LookupSpec): string {
  const masked = code(sql);
  const inner = lookup.sql.trim().replace(/;\s*$/, "");
  const where = Object.entries(lookup.match).map(([column, param]) =>
    `({${param}:Nullable(String)} IS NULL OR toString(\`${column}\`) = {${param}:Nullable(String)})`
  );
  const subquery = `(SELECT \`${lookup.key}\` FROM (\n${inner}\n)${
    where.length ? `\nWHERE ${where.join(" AND ")}` : ""
  })`;
  let out = "";
  let at = 0;
  for (const m of masked.matchAll(new RegExp(`\\{\\s*${lookup.param}\\s*:[^}]*\\}`, "g"))) {
    out += sql.slice(at, m.index) + subquery;
    at = m.index! + m[0].length;
  }
  return out + sql.slice(at);
}

/**
 * The result rows with their keys' lookup columns, in the order of `columns` when the route
 * declares them (else the row's columns, then the lookup's). A row whose key the lookup does not
 * hold is left out (an inner join): its tag left the dimension since the lookup was read.
 */
export function joinRows(
  rows: Record<string, unknown>[],
  found: Found,
  key: string,
  columns?: readonly string[],
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const row of rows) {
    const attrs = found.get(String(row[key]));
    if (!attrs) continue;
    if (!columns) {
      out.push({ ...attrs, ...row });
      continue;
    }
    const joined: Record<string, unknown> = {};
    for (const name of columns) joined[name] = name in row ? row[name] : attrs[name];
    out.push(joined);
  }
  return out;
}
