/**
 * A table's `engine_full` (as system.tables gives it, in ClickHouse's canonical formatting) split
 * into its clauses, so a plan can tell a TTL or a setting, which change in place, from a key or an
 * engine, which do not. ClickHouse prints the clauses in one order; a keyword inside parentheses
 * or quotes is part of an expression, not a clause.
 */

export const CLAUSES = [
  "PARTITION BY",
  "PRIMARY KEY",
  "ORDER BY",
  "SAMPLE BY",
  "TTL",
  "SETTINGS",
] as const;
export type Clause = typeof CLAUSES[number];

/** `engine` (the engine with its arguments) and each clause present, without its keyword. */
export type Clauses = { engine: string } & Partial<Record<Clause, string>>;

export function clausesOf(engineFull: string): Clauses {
  const cuts: [number, Clause][] = [];
  forTopLevel(engineFull, (i) => {
    if (engineFull[i] !== " ") return;
    for (const c of CLAUSES) {
      if (engineFull.startsWith(` ${c} `, i)) cuts.push([i, c]);
    }
  });
  const out: Clauses = { engine: engineFull.slice(0, cuts[0]?.[0] ?? engineFull.length).trim() };
  cuts.forEach(([at, c], k) => {
    const end = cuts[k + 1]?.[0] ?? engineFull.length;
    out[c] = engineFull.slice(at + c.length + 2, end).trim();
  });
  return out;
}

/** The `SETTINGS` clause as name → value text (`'hot'`, `10000`). */
export function settingsOf(clause: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!clause) return out;
  let start = 0;
  const take = (end: number) => {
    const part = clause.slice(start, end);
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    start = end + 1;
  };
  forTopLevel(clause, (i) => {
    if (clause[i] === ",") take(i);
  });
  take(clause.length);
  return out;
}

/** Calls `at(i)` for each index outside quotes and parentheses. */
function forTopLevel(text: string, at: (i: number) => void) {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === "\\") i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === "`" || ch === '"') quote = ch;
    else if (ch === "(" || ch === "[") depth++;
    else if (ch === ")" || ch === "]") depth--;
    else if (depth === 0) at(i);
  }
}

/** Whether `column` is named in an expression (a key, a partition expression). */
export function mentions(expression: string | undefined, column: string): boolean {
  if (!expression) return false;
  const escaped = column.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9_])\`?${escaped}\`?($|[^A-Za-z0-9_])`).test(expression);
}
