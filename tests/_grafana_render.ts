/**
 * What Grafana does to a panel's SQL before ClickHouse sees it, for the dashboard tests (Grafana
 * cannot run here): its template variables, formatted as its format registry does (`${var:fmt}`,
 * `$var`, `[[var]]`; @grafana/scenes `formatRegistry.ts`, and the older
 * `public/app/features/templating/formatRegistry.ts` where they differ), then the ClickHouse data
 * source's macros, expanded as its backend does (grafana/clickhouse-datasource
 * `pkg/macros/macros.go` over grafana/macropro): comments blanked first, then every `$__name`
 * replaced wherever it stands, string literals included.
 */

/** A variable's value as Grafana holds it: a string, or the selected values of a multi-value variable. */
export type VariableValue = string | string[];

const GRAFANA_REGEX_ESCAPE = /[\\^$*+?.()|[\]{}\/]/g;
const escapeRegex = (v: string) => v.replace(GRAFANA_REGEX_ESCAPE, "\\$&");
const strictUri = (v: string) =>
  encodeURIComponent(v).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
const each = (value: VariableValue, fn: (v: string) => string) =>
  Array.isArray(value) ? value.map(fn).join(",") : fn(value);

/** Grafana's variable formats, by the name used in `${var:name}`. */
export const formats: Record<string, (value: VariableValue, name: string) => string> = {
  raw: (value) => String(value),
  csv: (value) => Array.isArray(value) ? value.join(",") : value,
  pipe: (value) => Array.isArray(value) ? value.join("|") : value,
  glob: (value) =>
    Array.isArray(value) && value.length > 1 ? `{${value.join(",")}}` : String(value),
  // Scenes returns a string as it is; the older registry ran JSON.stringify on it too.
  json: (value) => typeof value === "string" ? value : JSON.stringify(value),
  singlequote: (value) => each(value, (v) => `'${v.replaceAll("'", "\\'")}'`),
  doublequote: (value) => each(value, (v) => `"${v.replaceAll('"', '\\"')}"`),
  sqlstring: (value) =>
    each(value, (v) => `'${v.replace(/'|"/g, (c) => c === "'" ? "''" : '\\"')}'`),
  regex: (value) => {
    if (typeof value === "string") return escapeRegex(value);
    return value.length === 1 ? escapeRegex(value[0]!) : `(${value.map(escapeRegex).join("|")})`;
  },
  percentencode: (value) => strictUri(Array.isArray(value) ? `{${value.join(",")}}` : value),
  // The older registry; scenes builds it from the URL state with AngularJS-style encoding.
  queryparam: (value, name) =>
    (Array.isArray(value) ? value : [value]).map((v) => `var-${name}=${strictUri(v)}`).join("&"),
};

/** The ClickHouse data source's own format, for a variable written without one (`$tag`). */
function dataSourceFormat(value: VariableValue): string {
  return Array.isArray(value) ? `'${value.join("','")}'` : value;
}

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}/g;

/** Template variables replaced as Grafana's interpolation does; unknown names are left as they are. */
export function interpolate(sql: string, variables: Record<string, VariableValue>): string {
  return sql.replace(VARIABLE, (match, v1, v2, fmt2, v3, _path, fmt3) => {
    const name: string = v1 ?? v2 ?? v3;
    const value = variables[name];
    if (value === undefined) return match;
    const format: string | undefined = fmt2 ?? fmt3;
    if (!format) return dataSourceFormat(value);
    const fn = formats[format.split(":")[0]!];
    if (!fn) throw new Error(`Cannot format "${name}": format "${format}" is not modelled`);
    return fn(value, name);
  });
}

/** The dashboard's time range, in Unix seconds (what the macros print). */
export interface TimeRange {
  from: number;
  to: number;
}

type Macro = (args: string[], range: TimeRange) => string;
const dateTime = (s: number) => `toDateTime(${s})`;
const oneArg = (name: string, args: string[]) => {
  if (args.length !== 1) throw new Error(`${name} expected 1 argument(s), received ${args.length}`);
  return args[0]!;
};

/** The data source's macros that the dashboard can use (pkg/macros/macros.go). */
const MACROS: Record<string, Macro> = {
  timeFilter: (args, r) => {
    const col = oneArg("$__timeFilter", args);
    return `${col} >= ${dateTime(r.from)} AND ${col} <= ${dateTime(r.to)}`;
  },
  fromTime: (_, r) => dateTime(r.from),
  toTime: (_, r) => dateTime(r.to),
  fromTime_ms: (_, r) => `fromUnixTimestamp64Milli(${r.from * 1000})`,
  toTime_ms: (_, r) => `fromUnixTimestamp64Milli(${r.to * 1000})`,
};

/** The data source's macros expanded as its backend does, after blanking comments. */
export function expandMacros(sql: string, range: TimeRange): string {
  let out = blankComments(sql);
  const names = Object.keys(MACROS).sort((a, b) => b.length - a.length || a.localeCompare(b));
  for (const name of names) {
    const token = `$__${name}`;
    let rest = out;
    out = "";
    for (let at = rest.indexOf(token); at !== -1; at = rest.indexOf(token)) {
      const after = at + token.length;
      if (/\w/.test(rest[after] ?? "")) {
        out += rest.slice(0, after);
        rest = rest.slice(after);
        continue;
      }
      out += rest.slice(0, at);
      rest = rest.slice(after);
      let args: string[] = [];
      const close = rest.startsWith("(") ? closingParen(rest) : -1;
      if (close !== -1) {
        const raw = rest.slice(1, close).trim();
        args = raw === "" ? [] : raw.split(",").map((a) => a.trim()); // simple arguments only
        rest = rest.slice(close + 1);
      }
      out += MACROS[name]!(args, range);
    }
    out += rest;
  }
  return out;
}

function closingParen(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth++;
    if (s[i] === ")" && --depth === 0) return i;
  }
  return -1;
}

/**
 * `--` and `/* *\/` comments replaced by spaces, with string literals ('…' with backslash or
 * doubled-quote escapes, "…", `…`) and dollar-quoted strings ($tag$…$tag$) kept whole.
 */
function blankComments(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    let end = i + 1;
    if (c === "'" || c === '"' || c === "`") {
      end = quotedEnd(sql, i);
    } else if (c === "$" && /^\$\w*\$/.test(sql.slice(i))) {
      const tag = /^\$\w*\$/.exec(sql.slice(i))![0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close !== -1) end = close + tag.length;
    } else if (sql.startsWith("--", i) || sql.startsWith("/*", i)) {
      const stop = c === "-" ? sql.indexOf("\n", i) : sql.indexOf("*/", i + 2);
      end = stop === -1 ? sql.length : c === "-" ? stop : stop + 2;
      out += " ".repeat(end - i);
      i = end;
      continue;
    }
    out += sql.slice(i, end);
    i = end;
  }
  return out;
}

/** Where the quoted string starting at `pos` ends (past its closing quote). */
function quotedEnd(sql: string, pos: number): number {
  const quote = sql[pos];
  for (let j = pos + 1; j < sql.length; j++) {
    if (sql[j] === "\\") j++;
    else if (sql[j] === quote && sql[j + 1] === quote) j++;
    else if (sql[j] === quote) return j + 1;
  }
  return sql.length;
}

/** A panel's SQL as the data source sends it to ClickHouse. */
export function render(
  sql: string,
  variables: Record<string, VariableValue>,
  range: TimeRange,
): string {
  return expandMacros(interpolate(sql, variables), range);
}
