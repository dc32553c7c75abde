/**
 * A parser for the T-SQL that Historian clients send: SELECT [TOP n] with column lists or *,
 * FROM a (possibly four-part, [bracketed] or "quoted") table name, WHERE with AND/OR/NOT,
 * comparisons, BETWEEN, IN, LIKE, IS [NOT] NULL, literals, @parameters and @@globals, ORDER BY,
 * function calls; SELECT without FROM; SET statements (session options, accepted and
 * ignored); and USE. Anything else is a SQL Server syntax error (Msg 102), never a guess.
 */
import { TdsError } from "../tds/server.ts";
import type { SqlValue } from "../tds/types.ts";
import { lex, syntaxError } from "./lex.ts";
import type { Token } from "./lex.ts";

export { syntaxError } from "./lex.ts";

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
  /** GROUP BY columns (only with COUNT in the select list). */
  groupBy?: Expr[];
  orderBy?: { e: Expr; desc: boolean }[];
  text: string;
}

export type Statement = Select | { k: "set" } | { k: "use"; database: string };

/** The parser's state: the batch, its tokens and the cursor. */
interface Parser {
  sql: string;
  toks: Token[];
  p: number;
}

const peek = (ps: Parser) => ps.toks[ps.p]!;
const next = (ps: Parser) => ps.toks[ps.p++]!;
const isKw = (ps: Parser, v: string) => peek(ps).t === "kw" && peek(ps).v === v;
const isOp = (ps: Parser, v: string) => peek(ps).t === "op" && peek(ps).v === v;
const fail = (ps: Parser): never => {
  const t = peek(ps);
  throw syntaxError(t.t === "eof" ? (ps.toks[ps.p - 1]?.v ?? "") : t.t === "str" ? t.v : t.v);
};
const expectKw = (ps: Parser, v: string) => (isKw(ps, v) ? next(ps) : fail(ps));
const expectOp = (ps: Parser, v: string) => (isOp(ps, v) ? next(ps) : fail(ps));

function name(ps: Parser): string {
  const t = peek(ps);
  if (t.t === "id" || t.t === "qid") return next(ps).v;
  return fail(ps);
}

function dottedName(ps: Parser): string[] {
  const parts = [name(ps)];
  while (isOp(ps, ".")) {
    next(ps);
    if (isOp(ps, ".")) {
      parts.push(""); // INSQL..History style: empty schema
      continue;
    }
    parts.push(name(ps));
  }
  return parts;
}

function primary(ps: Parser): Expr {
  const t = peek(ps);
  if (t.t === "num") {
    next(ps);
    return { k: "lit", v: /[.eE]/.test(t.v) ? Number(t.v) : Number(t.v) };
  }
  if (t.t === "str") {
    next(ps);
    return { k: "lit", v: t.v };
  }
  if (t.t === "param") {
    next(ps);
    return { k: "param", name: t.v };
  }
  if (t.t === "global") {
    next(ps);
    return { k: "global", name: t.v.toUpperCase() };
  }
  if (isKw(ps, "NULL")) {
    next(ps);
    return { k: "lit", v: null };
  }
  if (isOp(ps, "(")) {
    next(ps);
    const e = expr(ps);
    expectOp(ps, ")");
    return e;
  }
  if (isOp(ps, "-")) {
    next(ps);
    return { k: "neg", e: primary(ps) };
  }
  if (t.t === "id" || t.t === "qid") {
    const parts = dottedName(ps);
    if (isOp(ps, "(") && parts.length === 1 && t.t === "id") {
      next(ps);
      const args: Expr[] = [];
      let star = false;
      if (isOp(ps, "*")) {
        next(ps);
        star = true;
      } else if (!isOp(ps, ")")) {
        args.push(expr(ps));
        while (isOp(ps, ",")) {
          next(ps);
          args.push(expr(ps));
        }
      }
      expectOp(ps, ")");
      return { k: "call", name: parts[0]!.toUpperCase(), args, star };
    }
    return { k: "col", name: parts.at(-1)! };
  }
  return fail(ps);
}

function term(ps: Parser): Expr {
  let l = primary(ps);
  while (isOp(ps, "*") || isOp(ps, "/") || isOp(ps, "%")) {
    l = { k: "bin", op: next(ps).v, l, r: primary(ps) };
  }
  return l;
}

function additive(ps: Parser): Expr {
  let l = term(ps);
  while (isOp(ps, "+") || isOp(ps, "-")) l = { k: "bin", op: next(ps).v, l, r: term(ps) };
  return l;
}

function predicate(ps: Parser): Expr {
  const e = additive(ps);
  const t = peek(ps);
  if (t.t === "op" && ["=", "<>", "!=", "<", "<=", ">", ">=", "!<", "!>"].includes(t.v)) {
    next(ps);
    const op = t.v === "!=" ? "<>" : t.v === "!<" ? ">=" : t.v === "!>" ? "<=" : t.v;
    return { k: "bin", op, l: e, r: additive(ps) };
  }
  let not = false;
  if (isKw(ps, "NOT")) {
    next(ps);
    not = true;
  }
  if (isKw(ps, "BETWEEN")) {
    next(ps);
    const lo = additive(ps);
    expectKw(ps, "AND");
    return { k: "between", e, lo, hi: additive(ps), not };
  }
  if (isKw(ps, "IN")) {
    next(ps);
    expectOp(ps, "(");
    if (isKw(ps, "SELECT")) {
      throw new TdsError(102, "Subqueries are not supported by the Historian simulator.", 15);
    }
    const list = [expr(ps)];
    while (isOp(ps, ",")) {
      next(ps);
      list.push(expr(ps));
    }
    expectOp(ps, ")");
    return { k: "in", e, list, not };
  }
  if (isKw(ps, "LIKE")) {
    next(ps);
    return { k: "like", e, pattern: additive(ps), not };
  }
  if (not) return fail(ps);
  if (isKw(ps, "IS")) {
    next(ps);
    let isNot = false;
    if (isKw(ps, "NOT")) {
      next(ps);
      isNot = true;
    }
    expectKw(ps, "NULL");
    return { k: "isnull", e, not: isNot };
  }
  return e;
}

function negation(ps: Parser): Expr {
  if (isKw(ps, "NOT")) {
    next(ps);
    return { k: "not", e: negation(ps) };
  }
  return predicate(ps);
}

function conjunction(ps: Parser): Expr {
  let l = negation(ps);
  while (isKw(ps, "AND")) {
    next(ps);
    l = { k: "bin", op: "AND", l, r: negation(ps) };
  }
  return l;
}

function expr(ps: Parser): Expr {
  let l = conjunction(ps);
  while (isKw(ps, "OR")) {
    next(ps);
    l = { k: "bin", op: "OR", l, r: conjunction(ps) };
  }
  return l;
}

function select(ps: Parser): Select {
  const start = peek(ps).at;
  expectKw(ps, "SELECT");
  if (isKw(ps, "DISTINCT")) {
    throw new TdsError(102, "SELECT DISTINCT is not supported by the Historian simulator.", 15);
  }
  const s: Select = { k: "select", text: "" };
  if (isKw(ps, "TOP")) {
    next(ps);
    const paren = isOp(ps, "(");
    if (paren) next(ps);
    const n = peek(ps);
    if (n.t !== "num" || !/^\d+$/.test(n.v)) fail(ps);
    next(ps);
    if (paren) expectOp(ps, ")");
    s.top = Number(n.v);
  }
  if (isOp(ps, "*")) {
    next(ps);
  } else {
    s.items = [];
    do {
      if (s.items.length) next(ps);
      const e = expr(ps);
      let alias: string | undefined;
      if (isKw(ps, "AS")) {
        next(ps);
        alias = peek(ps).t === "str" ? next(ps).v : name(ps);
      } else if (peek(ps).t === "id" || peek(ps).t === "qid") {
        alias = name(ps);
      }
      s.items.push({ e, alias });
    } while (isOp(ps, ","));
  }
  if (isKw(ps, "FROM")) {
    next(ps);
    s.from = dottedName(ps);
    if (peek(ps).t === "id") next(ps); // table alias
    if (isKw(ps, "JOIN") || isOp(ps, ",")) {
      throw new TdsError(102, "Joins are not supported by the Historian simulator.", 15);
    }
  }
  if (isKw(ps, "WHERE")) {
    next(ps);
    s.where = expr(ps);
  }
  if (isKw(ps, "GROUP")) {
    next(ps);
    expectKw(ps, "BY");
    s.groupBy = [];
    do {
      if (s.groupBy.length) next(ps);
      s.groupBy.push(expr(ps));
    } while (isOp(ps, ","));
  }
  if (isKw(ps, "ORDER")) {
    next(ps);
    expectKw(ps, "BY");
    s.orderBy = [];
    do {
      if (s.orderBy.length) next(ps);
      const e = expr(ps);
      let desc = false;
      if (isKw(ps, "ASC")) next(ps);
      else if (isKw(ps, "DESC")) {
        next(ps);
        desc = true;
      }
      s.orderBy.push({ e, desc });
    } while (isOp(ps, ","));
  }
  s.text = ps.sql.slice(start, peek(ps).at).trim();
  return s;
}

/** Parses a batch of T-SQL into the statements the simulator understands. */
export function parse(sql: string): Statement[] {
  const ps: Parser = { sql, toks: lex(sql), p: 0 };
  const statements: Statement[] = [];
  while (peek(ps).t !== "eof") {
    if (isOp(ps, ";")) {
      next(ps);
    } else if (isKw(ps, "SELECT")) {
      statements.push(select(ps));
    } else if (isKw(ps, "SET")) {
      next(ps);
      while (peek(ps).t !== "eof" && !isKw(ps, "SET") && !isKw(ps, "SELECT") && !isOp(ps, ";")) {
        next(ps);
      }
      statements.push({ k: "set" });
    } else if (peek(ps).t === "id" && peek(ps).v.toUpperCase() === "USE") {
      next(ps);
      statements.push({ k: "use", database: name(ps) });
    } else {
      fail(ps);
    }
  }
  return statements;
}
