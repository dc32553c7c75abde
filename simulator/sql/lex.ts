/** The T-SQL lexer of the simulator: identifiers, [bracketed] and "quoted" names, keywords, numbers, strings, @parameters, @@globals, operators; comments skipped. */
import { TdsError } from "../tds/server.ts";

export interface Token {
  t: "id" | "qid" | "kw" | "num" | "str" | "param" | "global" | "op" | "eof";
  v: string;
  at: number;
}

const KEYWORDS = new Set([
  "SELECT",
  "TOP",
  "FROM",
  "WHERE",
  "AND",
  "OR",
  "NOT",
  "BETWEEN",
  "IN",
  "LIKE",
  "IS",
  "NULL",
  "ORDER",
  "BY",
  "ASC",
  "DESC",
  "AS",
  "SET",
  "JOIN",
  "GROUP",
  "HAVING",
  "UNION",
  "INTO",
  "INSERT",
  "UPDATE",
  "DELETE",
  "ON",
  "DISTINCT",
  "EXEC",
  "EXECUTE",
  "DECLARE",
]);

export function syntaxError(near: string): TdsError {
  return new TdsError(102, `Incorrect syntax near '${near}'.`, 15);
}

/** Splits a batch into tokens, ending with an `eof` token. */
export function lex(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) throw new TdsError(113, "Missing end comment mark '*/'.", 15);
      i = end + 2;
    } else if (c === "'" || ((c === "N" || c === "n") && sql[i + 1] === "'")) {
      const at = i;
      i += c === "'" ? 1 : 2;
      let s = "";
      while (true) {
        if (i >= sql.length) {
          throw new TdsError(105, `Unclosed quotation mark after the character string '${s}'.`, 15);
        }
        if (sql[i] === "'" && sql[i + 1] === "'") {
          s += "'";
          i += 2;
        } else if (sql[i] === "'") {
          i++;
          break;
        } else s += sql[i++];
      }
      out.push({ t: "str", v: s, at });
    } else if (c === "[" || c === '"') {
      const close = c === "[" ? "]" : '"';
      const at = i++;
      let s = "";
      while (true) {
        if (i >= sql.length) {
          throw new TdsError(105, `Unclosed quotation mark after the character string '${s}'.`, 15);
        }
        if (sql[i] === close && sql[i + 1] === close) {
          s += close;
          i += 2;
        } else if (sql[i] === close) {
          i++;
          break;
        } else s += sql[i++];
      }
      out.push({ t: "qid", v: s, at });
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(sql.slice(i))!;
      out.push({ t: "num", v: m[0], at: i });
      i += m[0].length;
    } else if (c === "@") {
      const m = /^@@?[A-Za-z_][A-Za-z0-9_@#$]*/.exec(sql.slice(i));
      if (!m) throw syntaxError("@");
      out.push({ t: m[0].startsWith("@@") ? "global" : "param", v: m[0], at: i });
      i += m[0].length;
    } else if (/[A-Za-z_#]/.test(c)) {
      const m = /^[A-Za-z_#][A-Za-z0-9_@#$]*/.exec(sql.slice(i))!;
      const up = m[0].toUpperCase();
      out.push(KEYWORDS.has(up) ? { t: "kw", v: up, at: i } : { t: "id", v: m[0], at: i });
      i += m[0].length;
    } else {
      const two = sql.slice(i, i + 2);
      if (["<=", ">=", "<>", "!=", "!<", "!>"].includes(two)) {
        out.push({ t: "op", v: two, at: i });
        i += 2;
      } else if ("=<>+-*/%(),.;".includes(c)) {
        out.push({ t: "op", v: c, at: i });
        i++;
      } else {
        throw syntaxError(c);
      }
    }
  }
  out.push({ t: "eof", v: "", at: sql.length });
  return out;
}
