/**
 * Just enough lexing of ClickHouse SQL for the HTTP front end: split statements, find the
 * first keyword and a trailing FORMAT clause. Quotes ('…', "…", `…`) and comments (--, #,
 * /* … *\/) are skipped so that a `;` or `FORMAT` inside them does not count.
 */

interface Token {
  text: string;
  start: number;
  end: number;
}

/** Words, numbers and single punctuation characters, with quoted text and comments skipped. */
function tokens(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "-" && sql[i + 1] === "-" || c === "#") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      const start = i++;
      while (i < sql.length && sql[i] !== c) i += sql[i] === "\\" ? 2 : 1;
      i++;
      out.push({
        text: sql.slice(start, Math.min(i, sql.length)),
        start,
        end: Math.min(i, sql.length),
      });
    } else if (/[A-Za-z0-9_]/.test(c)) {
      const start = i;
      while (i < sql.length && /[A-Za-z0-9_.]/.test(sql[i]!)) i++;
      out.push({ text: sql.slice(start, i), start, end: i });
    } else {
      out.push({ text: c, start: i, end: ++i });
    }
  }
  return out;
}

export interface StatementInfo {
  /** Upper-cased first keyword: SELECT, INSERT, CREATE, SET, USE, … ("" for an empty query). */
  keyword: string;
  /** The format named by a trailing `FORMAT name` clause, if any. */
  format?: string;
  /** True when the text holds more than one statement. */
  multiple: boolean;
  /** The statement without trailing semicolons and whitespace. */
  text: string;
}

export function inspect(sql: string): StatementInfo {
  const toks = tokens(sql);
  const semis = toks.filter((t) => t.text === ";");
  const lastSemi = semis.at(-1);
  const multiple = semis.some((s) => toks.some((t) => t.start > s.start && t.text !== ";"));
  const body = multiple || !lastSemi ? toks : toks.filter((t) => t.start < semis[0]!.start);
  const text = multiple || !lastSemi ? sql.trimEnd() : sql.slice(0, semis[0]!.start).trimEnd();
  const keyword = (body[0]?.text ?? "").toUpperCase();
  return { keyword, format: formatClause(body, keyword === "INSERT"), multiple, text };
}

/**
 * `FORMAT name` at nesting depth 0: for INSERT the first one (data may follow it), otherwise
 * the one that ends the query or is followed only by a SETTINGS clause.
 */
function formatClause(toks: Token[], insert: boolean): string | undefined {
  let depth = 0;
  let found: string | undefined;
  for (let i = 0; i < toks.length - 1; i++) {
    const t = toks[i]!.text;
    if (t === "(") depth++;
    else if (t === ")") depth--;
    else if (
      depth === 0 && t.toUpperCase() === "FORMAT" && /^[A-Za-z]\w*$/.test(toks[i + 1]!.text)
    ) {
      if (insert) return toks[i + 1]!.text;
      const after = toks[i + 2]?.text.toUpperCase();
      if (after === undefined || after === "SETTINGS") found = toks[i + 1]!.text;
    }
  }
  return found;
}

/** Settings as a SQL clause: `SETTINGS a = 1, b = 'x'`; names are checked, values quoted. */
export function settingsClause(settings: [string, string][]): string {
  if (settings.length === 0) return "";
  return "SETTINGS " + settings.map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SqlError(115, `Unknown setting ${name}`, "UNKNOWN_SETTING");
    }
    const literal = /^-?\d+(\.\d+)?$/.test(value)
      ? value
      : `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
    return `${name} = ${literal}`;
  }).join(", ");
}

/** An error in ClickHouse's own shape: code, message, name. */
export class SqlError extends Error {
  readonly code: number;
  constructor(code: number, message: string, name: string) {
    super(`Code: ${code}. DB::Exception: ${message}. (${name})`);
    this.name = "SqlError";
    this.code = code;
  }
}
