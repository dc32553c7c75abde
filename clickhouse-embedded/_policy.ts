/**
 * What a client of the embedded store may run. chDB has clickhouse-local's powers: its one user
 * holds every grant, `file()` reads and writes anywhere, `SYSTEM SHUTDOWN` signals the process
 * group. A ClickHouse server keeps clients away from all that by default (files confined to
 * `user_files_path`, no `INTO OUTFILE` over HTTP, users with grants); the store does it here,
 * before a statement reaches the engine:
 *
 * - statements by kind: the reader may only read (SELECT, WITH, SHOW, DESCRIBE, EXISTS,
 *   EXPLAIN); the writer may also insert and change tables and databases; nobody may run
 *   SYSTEM, KILL, GRANT, BACKUP, ATTACH, CREATE FUNCTION/USER/DICTIONARY, temporary tables;
 * - nothing reaches outside the store's data: no table function, table engine or database
 *   engine that reads or writes files, URLs, other servers or programs (an allowlist of table
 *   functions, so one added by a newer engine is refused until looked at), no `file()`,
 *   `disk()`, `INTO OUTFILE`, `FROM INFILE`, no settings that name files;
 * - limits a client cannot lift: `max_memory_usage`, `max_execution_time`, result limits only
 *   lower than the store's caps, `readonly` and introspection kept by the store.
 *
 * The check is lexical, on tokens read the way ClickHouse's lexer reads them (quotes, Unicode
 * quotes, heredocs, nested comments), and errs on the side of refusing: a denied name followed
 * by `(` is refused wherever it stands, even where it would have been harmless.
 */
import { nameOf, SqlError, tokens } from "./_sql.ts";
import type { Token } from "./_sql.ts";

export type Role = "writer" | "reader";

/** SET and USE change only the request's own session (see _sessions.ts), never the engine. */
const READ = new Set([
  "SELECT",
  "WITH",
  "SHOW",
  "DESCRIBE",
  "DESC",
  "EXISTS",
  "EXPLAIN",
  "(",
  "SET",
  "USE",
]);
const WRITE = new Set([
  ...READ,
  "INSERT",
  "CREATE",
  "ALTER",
  "DROP",
  "TRUNCATE",
  "RENAME",
  "EXCHANGE",
  "OPTIMIZE",
  "DELETE",
  "UPDATE",
  "CHECK",
]);
/** Every other statement ClickHouse knows: refused by name, not taken for a syntax error. */
const STATEMENTS = new Set([
  "SYSTEM",
  "KILL",
  "GRANT",
  "REVOKE",
  "BACKUP",
  "RESTORE",
  "ATTACH",
  "DETACH",
  "UNDROP",
  "WATCH",
  "MOVE",
  "BEGIN",
  "COMMIT",
  "ROLLBACK",
  "START",
  "SET",
  "USE",
  "INSTALL",
  "PARALLEL",
]);
/** What follows CREATE/DROP/ALTER that only an administrator does, or that keeps state across requests. */
const ADMIN_OBJECTS = new Set([
  "FUNCTION",
  "USER",
  "ROLE",
  "QUOTA",
  "POLICY",
  "ROW",
  "PROFILE",
  "SETTINGS",
  "DICTIONARY",
  "NAMED",
  "TEMPORARY",
  "WORKLOAD",
  "RESOURCE",
]);

/**
 * Table functions a client may call: they make or transform data in the store. Every other
 * one (file, url, s3, remote, mysql, executable, filesystem, …, and any added later) is refused.
 */
export const SAFE_TABLE_FUNCTIONS = new Set([
  "numbers",
  "numbers_mt",
  "zeros",
  "zeros_mt",
  "primes",
  "generate_series",
  "generateseries",
  "generaterandom",
  "values",
  "null",
  "view",
  "viewifpermitted",
  "viewexplain",
  "merge",
  "loop",
  "format",
  "input",
  "mergetreeindex",
  "mergetreeprojection",
  "mergetreeanalyzeindexes",
]);

/** Table and database engines that reach outside the store (compared in lower case). */
const OUTSIDE_ENGINES = new Set([
  "file",
  "filelog",
  "url",
  "s3",
  "s3queue",
  "gcs",
  "cosn",
  "oss",
  "hdfs",
  "azureblobstorage",
  "azurequeue",
  "mysql",
  "postgresql",
  "materializedpostgresql",
  "materializedmysql",
  "mongodb",
  "redis",
  "sqlite",
  "odbc",
  "jdbc",
  "executable",
  "executablepool",
  "kafka",
  "rabbitmq",
  "nats",
  "remote",
  "remotesecure",
  "distributed",
  "filesystem",
  "backup",
  "datalakecatalog",
  "queryrunner",
  "ytsaurus",
  "arrowstream",
  "replicated",
  "keepermap",
]);

/** Functions that read files or define storage at a path. */
const OUTSIDE_FUNCTIONS = new Set(["file", "disk", "catboostevaluate"]);

/** Settings a client may not set at all: they name files read by formats, or are the store's. */
const FORBIDDEN_SETTINGS = new Set([
  "readonly",
  "allow_introspection_functions",
  "format_schema",
  "format_schema_source",
  "format_template_row",
  "format_template_resultset",
  "format_template_row_format",
  "format_template_resultset_format",
  "user_files_path",
]);

/** Limits a client may lower, never lift (0 means "no limit" to ClickHouse, so it is lifting). */
export interface Caps {
  /** Bytes of memory one query may use. */
  max_memory_usage: number;
  /** Seconds one query may run. */
  max_execution_time: number;
}

/**
 * Refuses what `role` may not run; `settings` are the request's URL settings. Throws the error
 * ClickHouse gives for each case (497 ACCESS_DENIED, 164 READONLY, 452 for settings).
 */
export function checkStatement(
  sql: string,
  keyword: string,
  role: Role,
  settings: [string, string][],
  caps: Caps,
  tableFunctions: ReadonlySet<string>,
): void {
  const allowed = role === "reader" ? READ : WRITE;
  if (!WRITE.has(keyword) && !STATEMENTS.has(keyword)) {
    throw new SqlError(
      62,
      `Syntax error: failed at position 1 (${keyword}): unknown statement`,
      "SYNTAX_ERROR",
    );
  }
  if (!allowed.has(keyword)) {
    if (role === "reader" && WRITE.has(keyword)) {
      throw new SqlError(
        164,
        `reader: Cannot execute ${keyword}: this user may only read`,
        "READONLY",
      );
    }
    throw denied(`${keyword} statements are not available through the embedded store`);
  }
  const toks = tokens(sql);
  const words = toks.map((t) => (t.quote ? "" : t.text.toUpperCase()));
  if (["CREATE", "DROP", "ALTER", "ATTACH"].includes(keyword)) {
    // CREATE [OR REPLACE] [TEMPORARY] …: the object kind is among the next few words.
    for (const w of words.slice(1, 5)) {
      if (ADMIN_OBJECTS.has(w)) {
        throw denied(`${keyword} ${w} is not available through the embedded store`);
      }
      if (w === "TABLE" || w === "VIEW" || w === "DATABASE" || w === "MATERIALIZED") break;
    }
  }
  for (let i = 0; i < toks.length; i++) {
    const w = words[i]!;
    if (w === "INTO" && words[i + 1] === "OUTFILE") throw denied("INTO OUTFILE is not allowed");
    if (w === "INFILE") throw denied("FROM INFILE is not allowed");
    if (w === "ENGINE") checkEngine(toks, i);
    if (toks[i + 1]?.text !== "(" || toks[i]!.quote === "'" || toks[i]!.quote === "$") continue;
    const name = nameOf(toks[i]!).split(".").at(-1)!.toLowerCase();
    if (
      OUTSIDE_FUNCTIONS.has(name) || (tableFunctions.has(name) && !SAFE_TABLE_FUNCTIONS.has(name))
    ) {
      throw denied(`${nameOf(toks[i]!)}() reaches outside the store and is not allowed`);
    }
  }
  const set = keyword === "SET" ? setPairs(toks) : [];
  checkSettings([...settings, ...inlineSettings(toks), ...set], caps);
}

/** The `name = value` pairs of a SET statement. */
export function setPairs(toks: Token[]): [string, string][] {
  return pairsFrom(toks, 1);
}

/** `ENGINE = Name(…)` (tables) or `ENGINE = Name` (databases): refused when it reaches outside. */
function checkEngine(toks: Token[], at: number) {
  const next = toks[at + 1]?.text === "=" ? toks[at + 2] : toks[at + 1];
  if (!next) return;
  const name = nameOf(next).toLowerCase();
  if (
    OUTSIDE_ENGINES.has(name) || name.startsWith("iceberg") || name.startsWith("deltalake") ||
    name.startsWith("hudi") || name.startsWith("paimon")
  ) {
    throw denied(`the ${nameOf(next)} engine reaches outside the store and is not allowed`);
  }
}

/** `name = value` pairs after every SETTINGS keyword in the statement (the clause may repeat). */
function inlineSettings(toks: Token[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < toks.length; i++) {
    if (!toks[i]!.quote && toks[i]!.text.toUpperCase() === "SETTINGS") {
      out.push(...pairsFrom(toks, i + 1));
    }
  }
  return out;
}

/** `a = 1, b = 'x', …` from token `k` on; a negative number's sign is kept. */
function pairsFrom(toks: Token[], k: number): [string, string][] {
  const out: [string, string][] = [];
  while (toks[k + 1]?.text === "=" && toks[k + 2]) {
    let at = k + 2;
    let sign = "";
    if (toks[at]!.text === "-") sign = "-", at++;
    const value = toks[at];
    if (!value) break;
    out.push([
      nameOf(toks[k]!),
      sign + (value.quote === "'" ? value.text.slice(1, -1) : value.text),
    ]);
    k = at + 1;
    if (toks[k]?.text !== ",") break;
    k++;
  }
  return out;
}

function checkSettings(settings: [string, string][], caps: Caps) {
  for (const [raw, value] of settings) {
    const name = raw.toLowerCase();
    if (FORBIDDEN_SETTINGS.has(name)) {
      throw new SqlError(
        452,
        `Setting ${raw} cannot be changed through the embedded store`,
        "SETTING_CONSTRAINT_VIOLATION",
      );
    }
    const cap = (caps as unknown as Record<string, number>)[name];
    if (cap === undefined) continue;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > cap) {
      throw new SqlError(
        452,
        `Setting ${raw} shouldn't be greater than ${cap} (nor 0, which means no limit) in the embedded store, got ${value}`,
        "SETTING_CONSTRAINT_VIOLATION",
      );
    }
  }
}

function denied(what: string): SqlError {
  return new SqlError(497, `Not enough privileges: ${what}`, "ACCESS_DENIED");
}
