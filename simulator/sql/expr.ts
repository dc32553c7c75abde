/**
 * Expressions, compiled once per query to closures over a row. They follow SQL Server's rules
 * where clients can tell the difference: three-valued logic with NULL, case-insensitive string
 * comparison (the CI collation), implicit conversion of text to numbers and datetimes, LIKE
 * with % _ and [..].
 */
import { TdsError } from "../tds/server.ts";
import { SqlTime } from "../tds/types.ts";
import type { Column, ColumnType, SqlValue } from "../tds/types.ts";
import type { Expr } from "./parse.ts";
import type { Env } from "./run.ts";

export type Compiled = (row: readonly SqlValue[]) => SqlValue;

export function columnIndex(columns: readonly Column[]) {
  const index = new Map<string, number>();
  columns.forEach((c, i) => index.set(c.name.toLowerCase(), i));
  return index;
}

/** Resolves names once; unknown columns and parameters fail before any row is sent. */
export function compile(e: Expr, columns: readonly Column[], env: Env): Compiled {
  const index = columnIndex(columns);
  const go = (x: Expr): Compiled => {
    switch (x.k) {
      case "lit": {
        const v = x.v;
        return () => v;
      }
      case "param": {
        const key = x.name.toLowerCase();
        if (!env.params.has(key)) {
          throw new TdsError(137, `Must declare the scalar variable "${x.name}".`, 15);
        }
        const v = env.params.get(key)!;
        return () => v;
      }
      case "global": {
        if (x.name !== "@@VERSION") {
          throw new TdsError(137, `Must declare the scalar variable "${x.name}".`, 15);
        }
        return () => env.version;
      }
      case "col": {
        const i = index.get(x.name.toLowerCase());
        if (i === undefined) throw new TdsError(207, `Invalid column name '${x.name}'.`, 16);
        return (row) => row[i] ?? null;
      }
      case "call":
        return callOf(x, go, env);
      case "neg": {
        const f = go(x.e);
        return (row) => {
          const v = f(row);
          return v === null ? null : -Number(v);
        };
      }
      case "not": {
        const f = go(x.e);
        return (row) => {
          const v = f(row);
          return v === null ? null : !v;
        };
      }
      case "bin":
        return binary(x.op, go(x.l), go(x.r));
      case "between": {
        const [f, lo, hi] = [go(x.e), go(x.lo), go(x.hi)];
        return (row) => {
          const a = compare(f(row), lo(row));
          const b = compare(f(row), hi(row));
          if (a === null || b === null) return null;
          const inside = a >= 0 && b <= 0;
          return x.not ? !inside : inside;
        };
      }
      case "in": {
        const f = go(x.e);
        const list = x.list.map(go);
        return (row) => {
          const v = f(row);
          if (v === null) return null;
          let unknown = false;
          for (const g of list) {
            const c = compare(v, g(row));
            if (c === 0) return !x.not;
            if (c === null) unknown = true;
          }
          return unknown ? null : x.not;
        };
      }
      case "like": {
        const [f, p] = [go(x.e), go(x.pattern)];
        let cached: [string, RegExp] | undefined;
        return (row) => {
          const v = f(row);
          const pattern = p(row);
          if (v === null || pattern === null) return null;
          const text = String(pattern);
          if (!cached || cached[0] !== text) cached = [text, likeRegex(text)];
          const m = cached[1].test(v instanceof SqlTime ? v.toString() : String(v));
          return x.not ? !m : m;
        };
      }
      case "isnull": {
        const f = go(x.e);
        return (row) => (f(row) === null) !== x.not;
      }
    }
  };
  return go(e);
}

function callOf(x: Extract<Expr, { k: "call" }>, go: (e: Expr) => Compiled, env: Env): Compiled {
  const args = x.args.map(go);
  switch (x.name) {
    case "SYSUTCDATETIME":
    case "GETUTCDATE":
      return () => env.nowUtc();
    case "GETDATE":
    case "SYSDATETIME":
    case "CURRENT_TIMESTAMP":
      return () => env.nowLocal();
    case "UPPER":
      return (row) => (args[0]!(row) === null ? null : String(args[0]!(row)).toUpperCase());
    case "LOWER":
      return (row) => (args[0]!(row) === null ? null : String(args[0]!(row)).toLowerCase());
    case "ISNULL":
      return (row) => args[0]!(row) ?? args[1]!(row);
    case "COUNT":
      throw new TdsError(147, "An aggregate may not appear in the WHERE clause.", 15);
    default:
      throw new TdsError(195, `'${x.name}' is not a recognized built-in function name.`, 15);
  }
}

function binary(op: string, l: Compiled, r: Compiled): Compiled {
  switch (op) {
    case "AND":
      return (row) => {
        const a = l(row);
        if (a === false) return false;
        const b = r(row);
        if (b === false) return false;
        return a === null || b === null ? null : true;
      };
    case "OR":
      return (row) => {
        const a = l(row);
        if (a === true) return true;
        const b = r(row);
        if (b === true) return true;
        return a === null || b === null ? null : false;
      };
    case "+":
    case "-":
    case "*":
    case "/":
    case "%":
      return (row) => arithmetic(op, l(row), r(row));
    default:
      return (row) => {
        const c = compare(l(row), r(row));
        if (c === null) return null;
        switch (op) {
          case "=":
            return c === 0;
          case "<>":
            return c !== 0;
          case "<":
            return c < 0;
          case "<=":
            return c <= 0;
          case ">":
            return c > 0;
          default:
            return c >= 0;
        }
      };
  }
}

function arithmetic(op: string, a: SqlValue, b: SqlValue): SqlValue {
  if (a === null || b === null) return null;
  if (
    op === "+" && (typeof a === "string" || typeof b === "string") &&
    !(typeof a === "number" || typeof b === "number")
  ) {
    return String(a) + String(b);
  }
  const x = toNumber(a);
  const y = toNumber(b);
  if ((op === "/" || op === "%") && y === 0) {
    throw new TdsError(8134, "Divide by zero error encountered.", 16);
  }
  switch (op) {
    case "+":
      return x + y;
    case "-":
      return x - y;
    case "*":
      return x * y;
    case "/":
      return Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y;
    default:
      return x % y;
  }
}

function toNumber(v: SqlValue): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  const n = Number(String(v).trim());
  if (String(v).trim() === "" || Number.isNaN(n)) {
    throw new TdsError(
      245,
      `Conversion failed when converting the varchar value '${v}' to data type int.`,
      16,
    );
  }
  return n;
}

/** `'2024-01-31 12:00:00.1234567'`, `'2024-01-31T12:00:00Z'`, `'2024-01-31'` → a naive datetime2. */
export function parseSqlTime(text: string): SqlTime {
  const m =
    /^\s*(\d{4})-?(\d{2})-?(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*Z?\s*$/
      .exec(text);
  if (!m) {
    throw new TdsError(
      241,
      "Conversion failed when converting date and/or time from character string.",
      16,
    );
  }
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = ""] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23) {
    throw new TdsError(
      242,
      "The conversion of a varchar data type to a datetime data type resulted in an out-of-range value.",
      16,
    );
  }
  return new SqlTime(BigInt(ms) * 10_000n + BigInt(frac.padEnd(7, "0")));
}

/** -1, 0, 1, or null when either side is NULL. Strings compare case-insensitively. */
export function compare(a: SqlValue, b: SqlValue): number | null {
  if (a === null || b === null) return null;
  if (a instanceof SqlTime || b instanceof SqlTime) {
    const x = a instanceof SqlTime ? a.ticks : parseSqlTime(String(a)).ticks;
    const y = b instanceof SqlTime ? b.ticks : parseSqlTime(String(b)).ticks;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") {
    const x = a.toLowerCase().trimEnd();
    const y = b.toLowerCase().trimEnd();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = toNumber(a);
  const y = toNumber(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function likeRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "%") out += "[\\s\\S]*";
    else if (c === "_") out += "[\\s\\S]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) out += "\\[";
      else {
        const body = pattern.slice(i + 1, end);
        out += `[${
          body.startsWith("^")
            ? "^" + body.slice(1).replace(/\\/g, "\\\\")
            : body.replace(/\\/g, "\\\\")
        }]`;
        i = end;
      }
    } else out += c.replace(/[.*+?^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${out}$`, "is");
}

export function typeOf(e: Expr, columns: readonly Column[], env: Env): ColumnType {
  switch (e.k) {
    case "col": {
      const c = columns.find((c) => c.name.toLowerCase() === e.name.toLowerCase());
      return c?.type ?? "nvarchar";
    }
    case "lit":
    case "param": {
      const v = e.k === "lit" ? e.v : env.params.get(e.name.toLowerCase()) ?? null;
      return valueType(v);
    }
    case "global":
      return "nvarchar";
    case "call":
      return e.name === "COUNT"
        ? "int"
        : ["SYSUTCDATETIME", "GETUTCDATE", "GETDATE", "SYSDATETIME", "CURRENT_TIMESTAMP"].includes(
            e.name,
          )
        ? "datetime2"
        : e.name === "ISNULL"
        ? typeOf(e.args[0]!, columns, env)
        : "nvarchar";
    case "neg":
      return typeOf(e.e, columns, env);
    case "bin": {
      if (["AND", "OR", "=", "<>", "<", "<=", ">", ">="].includes(e.op)) return "bit";
      const [l, r] = [typeOf(e.l, columns, env), typeOf(e.r, columns, env)];
      if (l === "nvarchar" || r === "nvarchar") return e.op === "+" ? "nvarchar" : "float";
      return l === "float" || r === "float" || e.op === "/"
        ? (l === "float" || r === "float" ? "float" : "int")
        : l;
    }
    default:
      return "bit";
  }
}

function valueType(v: SqlValue): ColumnType {
  if (v instanceof SqlTime) return "datetime2";
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? "int" : "float";
  if (typeof v === "bigint") return "bigint";
  if (typeof v === "boolean") return "bit";
  if (v === null) return "int";
  return "nvarchar";
}
