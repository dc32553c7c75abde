/**
 * Just enough lexing of ClickHouse SQL for the HTTP front end: split statements, find the
 * first keyword and a trailing FORMAT clause. Quotes ('…', "…", `…`) and comments (--, #,
 * /* … *\/) are skipped so that a `;` or `FORMAT` inside them does not count.
 */

export interface Token {
  text: string;
  start: number;
  end: number;
  /** For a quoted token: 'string', "identifier", `identifier`, “identifier”, ‘string’, $$heredoc$$. */
  quote?: string;
}

/** Closing quote of each opening quote ClickHouse's lexer knows, Unicode quotes included. */
const QUOTES: Record<string, string> = {
  "'": "'",
  '"': '"',
  "`": "`",
  "\u201C": "\u201D",
  "\u2018": "\u2019",
};

/**
 * Words, numbers and single punctuation characters, with quoted text and comments skipped, the
 * way ClickHouse's lexer reads them: '…', "…", `…`, the Unicode quotes “…” and ‘…’, heredocs
 * ($$…$$, $tag$…$tag$), comments `--`, `#` and nested `/* … *\/`. The policy depends on this
 * agreeing with ClickHouse wherever text could be code.
 */
export function tokens(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const heredoc = c === "$" ? /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 256)) : null;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "-" && sql[i + 1] === "-" || c === "#") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      let depth = 0;
      do {
        if (sql.startsWith("/*", i)) depth++, i += 2;
        else if (sql.startsWith("*/", i)) depth--, i += 2;
        else i++;
      } while (depth > 0 && i < sql.length);
    } else if (heredoc) {
      const tag = heredoc[0];
      const close = sql.indexOf(tag, i + tag.length);
      const end = close === -1 ? sql.length : close + tag.length;
      out.push({ text: sql.slice(i, end), start: i, end, quote: "$" });
      i = end;
    } else if (QUOTES[c]) {
      const close = QUOTES[c];
      const start = i++;
      while (i < sql.length && sql[i] !== close) i += sql[i] === "\\" ? 2 : 1;
      i++;
      const end = Math.min(i, sql.length);
      out.push({ text: sql.slice(start, end), start, end, quote: c });
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

/** A token's name: an identifier's text without its quotes (strings and heredocs stay as they are). */
export function nameOf(t: Token): string {
  if (t.quote === '"' || t.quote === "`" || t.quote === "\u201C") return t.text.slice(1, -1);
  return t.text;
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
  /** Where the top-level SETTINGS clause starts in `text`, if there is one. */
  settingsAt?: number;
  /** Where the top-level FORMAT clause starts in `text`, if there is one. */
  formatAt?: number;
  /** For an INSERT with inline rows: where its top-level VALUES keyword starts. */
  valuesAt?: number;
  /** For `… FROM input('structure')`: where `input` starts, where its arguments start, and the end of the call. */
  inputCall?: [number, number, number];
}

export function inspect(sql: string): StatementInfo {
  const toks = tokens(sql);
  const semis = toks.filter((t) => t.text === ";");
  const lastSemi = semis.at(-1);
  const multiple = semis.some((s) => toks.some((t) => t.start > s.start && t.text !== ";"));
  const body = multiple || !lastSemi ? toks : toks.filter((t) => t.start < semis[0]!.start);
  const text = multiple || !lastSemi ? sql.trimEnd() : sql.slice(0, semis[0]!.start).trimEnd();
  const keyword = (body[0]?.text ?? "").toUpperCase();
  const clause = formatClause(body, keyword === "INSERT");
  const settings = topLevel(body).find((t) => t.text.toUpperCase() === "SETTINGS");
  const values = keyword === "INSERT"
    ? topLevel(body).find((t) => t.text.toUpperCase() === "VALUES")
    : undefined;
  return {
    keyword,
    format: clause?.name,
    multiple,
    text,
    ...(settings ? { settingsAt: settings.start } : {}),
    ...(clause ? { formatAt: clause.at } : {}),
    ...(values ? { valuesAt: values.start } : {}),
    ...(keyword === "INSERT" ? inputCallOf(body) : {}),
  };
}

/** The `input(...)` table function of an INSERT … SELECT, with its extent. */
function inputCallOf(toks: Token[]): { inputCall?: [number, number, number] } {
  const i = toks.findIndex((t, k) =>
    t.text.toLowerCase() === "input" && toks[k + 1]?.text === "(" &&
    toks[k - 1]?.text.toUpperCase() === "FROM"
  );
  if (i === -1) return {};
  let depth = 0;
  for (let k = i + 1; k < toks.length; k++) {
    if (toks[k]!.text === "(") depth++;
    else if (toks[k]!.text === ")" && --depth === 0) {
      return { inputCall: [toks[i]!.start, toks[i + 1]!.end, toks[k]!.end] };
    }
  }
  return {};
}

function topLevel(toks: Token[]): Token[] {
  let depth = 0;
  return toks.filter((t) => {
    if (t.text === "(") depth++;
    else if (t.text === ")") depth--;
    else return depth === 0;
    return false;
  });
}

/**
 * `FORMAT name` at nesting depth 0: for INSERT the first one (data may follow it), otherwise
 * the one that ends the query or is followed only by a SETTINGS clause.
 */
function formatClause(toks: Token[], insert: boolean): { name: string; at: number } | undefined {
  let depth = 0;
  let found: { name: string; at: number } | undefined;
  for (let i = 0; i < toks.length - 1; i++) {
    const t = toks[i]!.text;
    if (t === "(") depth++;
    else if (t === ")") depth--;
    else if (
      depth === 0 && t.toUpperCase() === "FORMAT" && /^[A-Za-z]\w*$/.test(toks[i + 1]!.text)
    ) {
      const clause = { name: toks[i + 1]!.text, at: toks[i]!.start };
      if (insert) return clause;
      const after = toks[i + 2]?.text.toUpperCase();
      if (after === undefined || after === "SETTINGS") found = clause;
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
