/**
 * A parser for the T-SQL that Historian clients send: SELECT [TOP n] with column lists or *,
 * FROM a (possibly four-part, [bracketed] or "quoted") table name, WHERE with AND/OR/NOT,
 * comparisons, BETWEEN, IN, LIKE, IS [NOT] NULL, literals, @parameters and @@globals, ORDER BY,
 * function calls; SELECT without FROM; and SET statements (session options, accepted and
 * ignored). Anything else is a SQL Server syntax error (Msg 102), never a guess.
 */
import { TdsError } from "../tds/server.ts";
import type { SqlValue } from "../tds/types.ts";

export type Expr =
  | { k: "lit"; v: SqlValue }
  | { k: "param"; name: string }
  | { k: "global"; name: string }
  | { k: "col"; name: string }
  | { k: "call"; name: string; args: Expr[]; star: boolean }
  | { k: "neg"; e: Expr }
  | { k: "not"; e: Expr }
  | { k: "bin"; op: string; l: Expr; r: Expr }
  | { k: "between"; e: Expr; lo: Expr; hi: Expr; not: boolean }
  | { k: "in"; e: Expr; list: Expr[]; not: boolean }
  | { k: "like"; e: Expr; pattern: Expr; not: boolean }
  | { k: "isnull"; e: Expr; not: boolean };

export interface SelectItem {
  e: Expr;
  alias?: string;
}

export interface Select {
  k: "select";
  top?: number;
  /** `undefined` means `*`. */
  items?: SelectItem[];
  from?: string[];
  where?: Expr;
  orderBy?: { e: Expr; desc: boolean }[];
  text: string;
}

export type Statement = Select | { k: "set" };

interface Token {
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

function lex(sql: string): Token[] {
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

export function parse(sql: string): Statement[] {
  const toks = lex(sql);
  let p = 0;
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const isKw = (v: string) => peek().t === "kw" && peek().v === v;
  const isOp = (v: string) => peek().t === "op" && peek().v === v;
  const fail = (): never => {
    const t = peek();
    throw syntaxError(t.t === "eof" ? (toks[p - 1]?.v ?? "") : t.t === "str" ? t.v : t.v);
  };
  const expectKw = (v: string) => (isKw(v) ? next() : fail());
  const expectOp = (v: string) => (isOp(v) ? next() : fail());

  function name(): string {
    const t = peek();
    if (t.t === "id" || t.t === "qid") return next().v;
    return fail();
  }

  function dottedName(): string[] {
    const parts = [name()];
    while (isOp(".")) {
      next();
      if (isOp(".")) {
        parts.push(""); // INSQL..History style: empty schema
        continue;
      }
      parts.push(name());
    }
    return parts;
  }

  function primary(): Expr {
    const t = peek();
    if (t.t === "num") {
      next();
      return { k: "lit", v: /[.eE]/.test(t.v) ? Number(t.v) : Number(t.v) };
    }
    if (t.t === "str") {
      next();
      return { k: "lit", v: t.v };
    }
    if (t.t === "param") {
      next();
      return { k: "param", name: t.v };
    }
    if (t.t === "global") {
      next();
      return { k: "global", name: t.v.toUpperCase() };
    }
    if (isKw("NULL")) {
      next();
      return { k: "lit", v: null };
    }
    if (isOp("(")) {
      next();
      const e = expr();
      expectOp(")");
      return e;
    }
    if (isOp("-")) {
      next();
      return { k: "neg", e: primary() };
    }
    if (t.t === "id" || t.t === "qid") {
      const parts = dottedName();
      if (isOp("(") && parts.length === 1 && t.t === "id") {
        next();
        const args: Expr[] = [];
        let star = false;
        if (isOp("*")) {
          next();
          star = true;
        } else if (!isOp(")")) {
          args.push(expr());
          while (isOp(",")) {
            next();
            args.push(expr());
          }
        }
        expectOp(")");
        return { k: "call", name: parts[0]!.toUpperCase(), args, star };
      }
      return { k: "col", name: parts.at(-1)! };
    }
    return fail();
  }

  function term(): Expr {
    let l = primary();
    while (isOp("*") || isOp("/") || isOp("%")) l = { k: "bin", op: next().v, l, r: primary() };
    return l;
  }

  function additive(): Expr {
    let l = term();
    while (isOp("+") || isOp("-")) l = { k: "bin", op: next().v, l, r: term() };
    return l;
  }

  function predicate(): Expr {
    const e = additive();
    const t = peek();
    if (t.t === "op" && ["=", "<>", "!=", "<", "<=", ">", ">=", "!<", "!>"].includes(t.v)) {
      next();
      const op = t.v === "!=" ? "<>" : t.v === "!<" ? ">=" : t.v === "!>" ? "<=" : t.v;
      return { k: "bin", op, l: e, r: additive() };
    }
    let not = false;
    if (isKw("NOT")) {
      next();
      not = true;
    }
    if (isKw("BETWEEN")) {
      next();
      const lo = additive();
      expectKw("AND");
      return { k: "between", e, lo, hi: additive(), not };
    }
    if (isKw("IN")) {
      next();
      expectOp("(");
      if (isKw("SELECT")) {
        throw new TdsError(102, "Subqueries are not supported by the Historian simulator.", 15);
      }
      const list = [expr()];
      while (isOp(",")) {
        next();
        list.push(expr());
      }
      expectOp(")");
      return { k: "in", e, list, not };
    }
    if (isKw("LIKE")) {
      next();
      return { k: "like", e, pattern: additive(), not };
    }
    if (not) return fail();
    if (isKw("IS")) {
      next();
      let isNot = false;
      if (isKw("NOT")) {
        next();
        isNot = true;
      }
      expectKw("NULL");
      return { k: "isnull", e, not: isNot };
    }
    return e;
  }

  function negation(): Expr {
    if (isKw("NOT")) {
      next();
      return { k: "not", e: negation() };
    }
    return predicate();
  }

  function conjunction(): Expr {
    let l = negation();
    while (isKw("AND")) {
      next();
      l = { k: "bin", op: "AND", l, r: negation() };
    }
    return l;
  }

  function expr(): Expr {
    let l = conjunction();
    while (isKw("OR")) {
      next();
      l = { k: "bin", op: "OR", l, r: conjunction() };
    }
    return l;
  }

  function select(): Select {
    const start = peek().at;
    expectKw("SELECT");
    if (isKw("DISTINCT")) {
      throw new TdsError(102, "SELECT DISTINCT is not supported by the Historian simulator.", 15);
    }
    const s: Select = { k: "select", text: "" };
    if (isKw("TOP")) {
      next();
      const paren = isOp("(");
      if (paren) next();
      const n = peek();
      if (n.t !== "num" || !/^\d+$/.test(n.v)) fail();
      next();
      if (paren) expectOp(")");
      s.top = Number(n.v);
    }
    if (isOp("*")) {
      next();
    } else {
      s.items = [];
      do {
        if (s.items.length) next();
        const e = expr();
        let alias: string | undefined;
        if (isKw("AS")) {
          next();
          alias = peek().t === "str" ? next().v : name();
        } else if (peek().t === "id" || peek().t === "qid") {
          alias = name();
        }
        s.items.push({ e, alias });
      } while (isOp(","));
    }
    if (isKw("FROM")) {
      next();
      s.from = dottedName();
      if (peek().t === "id") next(); // table alias
      if (isKw("JOIN") || isOp(",")) {
        throw new TdsError(102, "Joins are not supported by the Historian simulator.", 15);
      }
    }
    if (isKw("WHERE")) {
      next();
      s.where = expr();
    }
    if (isKw("ORDER")) {
      next();
      expectKw("BY");
      s.orderBy = [];
      do {
        if (s.orderBy.length) next();
        const e = expr();
        let desc = false;
        if (isKw("ASC")) next();
        else if (isKw("DESC")) {
          next();
          desc = true;
        }
        s.orderBy.push({ e, desc });
      } while (isOp(","));
    }
    s.text = sql.slice(start, peek().at).trim();
    return s;
  }

  const statements: Statement[] = [];
  while (peek().t !== "eof") {
    if (isOp(";")) {
      next();
    } else if (isKw("SELECT")) {
      statements.push(select());
    } else if (isKw("SET")) {
      next();
      while (peek().t !== "eof" && !isKw("SET") && !isKw("SELECT") && !isOp(";")) next();
      statements.push({ k: "set" });
    } else {
      fail();
    }
  }
  return statements;
}
