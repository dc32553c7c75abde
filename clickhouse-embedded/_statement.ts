/**
 * Statements the store rewrites before the engine runs them: per-request settings added as a
 * SETTINGS clause where ClickHouse takes one, and an INSERT whose data came in the body turned
 * into one that reads it from the file the store spooled it to.
 */
import { settingsClause, SqlError } from "./_sql.ts";
import type { StatementInfo } from "./_sql.ts";

/** Settings the store adds to a Values insert from a body: its rows are data, never expressions. */
export const VALUES_AS_DATA: [string, string][] = [
  ["input_format_values_interpret_expressions", "0"],
  ["input_format_values_deduce_templates_of_expressions", "0"],
];

/**
 * Adds per-query settings to a statement: at the end (ClickHouse accepts them after FORMAT
 * too), or, for an INSERT with its rows inline, before its VALUES or FORMAT clause, where the
 * data starts.
 */
export function withSettings(
  sql: string,
  settings: [string, string][],
  info?: StatementInfo,
): string {
  const noData = info?.keyword !== "INSERT" ||
    (info.valuesAt === undefined && info.formatAt === undefined);
  if (noData && info?.settingsAt !== undefined) {
    // The statement's own SETTINGS clause (a SELECT's, an INSERT … SELECT's): ours join it
    // (one clause only), and its own values, already checked against the caps, win.
    const own = new Set(
      [...sql.slice(info.settingsAt).matchAll(/([A-Za-z_]\w*)\s*=/g)].map((m) =>
        m[1]!.toLowerCase()
      ),
    );
    const extra = settingsClause(settings.filter(([n]) => !own.has(n.toLowerCase())));
    if (!extra) return sql;
    const at = info.settingsAt + "SETTINGS".length;
    return `${sql.slice(0, at)} ${extra.slice("SETTINGS ".length)},${sql.slice(at)}`;
  }
  const clause = settingsClause(settings);
  if (!clause) return sql;
  const dataAt = info?.keyword === "INSERT"
    ? Math.min(info.valuesAt ?? Infinity, info.formatAt ?? Infinity)
    : Infinity;
  if (dataAt === Infinity) return `${sql}\n${clause}`;
  if (info!.settingsAt !== undefined && info!.settingsAt < dataAt) {
    const at = info!.settingsAt + "SETTINGS".length;
    return `${sql.slice(0, at)} ${clause.slice("SETTINGS ".length)},${sql.slice(at)}`;
  }
  return `${sql.slice(0, dataAt)}${clause} ${sql.slice(dataAt)}`;
}

/**
 * An INSERT whose data is in the body, rewritten to read that data from a file:
 * - `INSERT INTO t SELECT … FROM input('structure') FORMAT f` → `… FROM file(<file>, 'f', 'structure')`;
 * - `INSERT INTO t (cols) [SETTINGS …] FORMAT f` → `INSERT INTO t (cols) FROM INFILE <file> SETTINGS … FORMAT f`;
 * - a trailing VALUES means FORMAT Values.
 */
export function insertFromFile(
  sql: string,
  info: StatementInfo,
  settings: [string, string][],
): { build: (file: string) => string } {
  let text = info.text;
  let format = info.format;
  let formatAt = info.formatAt;
  if (info.inputCall) {
    if (format === undefined || formatAt === undefined) {
      throw new SqlError(62, "An INSERT … FROM input() needs a FORMAT clause", "SYNTAX_ERROR");
    }
    const [start, argsStart, end] = info.inputCall;
    const head = sql.slice(0, start);
    const args = sql.slice(argsStart, end - 1);
    const tail = sql.slice(end, formatAt).trimEnd();
    return {
      build: (file) => withSettings(`${head}file(${file}, '${format}', ${args})${tail}`, settings),
    };
  }
  if (format === undefined || formatAt === undefined) {
    const values = /\sVALUES\s*$/i.exec(text);
    if (!values) {
      throw new SqlError(
        62,
        "An INSERT with data in the body needs a FORMAT clause",
        "SYNTAX_ERROR",
      );
    }
    text = text.slice(0, values.index);
    format = "Values";
    formatAt = text.length;
  }
  const head = text.slice(0, info.settingsAt ?? formatAt).trimEnd();
  const own = info.settingsAt !== undefined
    ? text.slice(info.settingsAt + "SETTINGS".length, formatAt).trim()
    : "";
  const extra = settingsClause(settings).replace(/^SETTINGS /, "");
  const all = [own, extra].filter(Boolean).join(", ");
  return {
    build: (file) => `${head} FROM INFILE ${file}${all ? ` SETTINGS ${all}` : ""} FORMAT ${format}`,
  };
}
