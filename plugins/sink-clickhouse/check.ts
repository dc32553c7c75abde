/**
 * Offline checks of a storage model in ClickHouse's terms, run by `validate` before anything
 * connects: column types are types ClickHouse knows (and, for columns the sink writes, types
 * its RowBinary writer can encode), and the expressions of derived tables and aggregations
 * name only columns that exist. `validate --connect` is where ClickHouse itself explains them.
 */
import { aggregationInput, isReadingsTable } from "../../engine/mod.ts";
import type { ModelIssue, StorageModel } from "../../engine/mod.ts";
import { encoderFor } from "./rowbinary.ts";
import { BATCH_FIELDS, perBatchColumns } from "./ddl.ts";

const SIMPLE_TYPES = new Set([
  "String",
  "Bool",
  "UUID",
  "Date",
  "Date32",
  "IPv4",
  "IPv6",
  "Nothing",
  ..."Int8 Int16 Int32 Int64 Int128 Int256 UInt8 UInt16 UInt32 UInt64 UInt128 UInt256".split(" "),
  "Float32",
  "Float64",
  "BFloat16",
]);
const WRAPPERS = new Set(["Nullable", "LowCardinality", "Array"]);

/** Why `type` is not a ClickHouse type, or undefined when it is one. */
export function typeProblem(type: string): string | undefined {
  const t = type.trim();
  if (SIMPLE_TYPES.has(t)) return undefined;
  if (/^DateTime(\s*\(\s*'[^']*'\s*\))?$/.test(t)) return undefined;
  if (/^DateTime64\s*\(\s*\d\s*(,\s*'[^']*'\s*)?\)$/.test(t)) return undefined;
  if (/^Decimal(32|64|128|256)?\s*\(\s*\d+\s*(,\s*\d+\s*)?\)$/.test(t)) return undefined;
  if (/^FixedString\s*\(\s*\d+\s*\)$/.test(t)) return undefined;
  if (/^Enum(8|16)\s*\(.+\)$/.test(t)) return undefined;
  const m = /^([A-Za-z]+)\s*\((.*)\)$/.exec(t);
  if (m && WRAPPERS.has(m[1]!)) return typeProblem(m[2]!);
  if (m && (m[1] === "Map" || m[1] === "Tuple")) {
    for (const part of splitTop(m[2]!)) {
      const inner = m[1] === "Tuple"
        ? part.replace(/^[A-Za-z_][A-Za-z0-9_]*\s+(?=[A-Z])/, "")
        : part;
      const problem = typeProblem(inner);
      if (problem) return problem;
    }
    return undefined;
  }
  return `unknown ClickHouse type "${t}"`;
}

/** Splits `a, b(c, d), e` at top-level commas. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

const KEYWORDS = new Set(
  ("AND OR NOT IS NULL IN AS CASE WHEN THEN ELSE END TRUE FALSE INTERVAL SECOND MINUTE HOUR " +
    "DAY WEEK MONTH YEAR DISTINCT LIKE ILIKE BETWEEN OVER PARTITION BY ORDER ASC DESC")
    .split(" "),
);

/** Column names an expression refers to: `[qualifier, name]`, functions and lambdas left out. */
export function referencedColumns(expr: string): [string | undefined, string][] {
  const text = expr.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  const lambdas = new Set<string>();
  for (const m of text.matchAll(/\(?\s*([A-Za-z_][\w\s,]*)\)?\s*->/g)) {
    for (const name of m[1]!.split(",")) lambdas.add(name.trim());
  }
  const out: [string | undefined, string][] = [];
  const token = /(?:([A-Za-z_]\w*)\.)?(`[^`]+`|[A-Za-z_]\w*)(\s*\()?/g;
  for (const m of text.matchAll(token)) {
    const before = text[m.index - 1];
    if (m[3] || (before !== undefined && /[\w.]/.test(before))) continue; // a function, a number part
    const name = m[2]!.replace(/^`|`$/g, "");
    if (!m[1] && (KEYWORDS.has(name.toUpperCase()) || lambdas.has(name))) continue;
    out.push([m[1], name]);
  }
  return out;
}

export function checkModel(model: StorageModel): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const typeIssue = (path: (string | number)[], type: string, written: boolean) => {
    const problem = typeProblem(type);
    if (problem) return issues.push({ path, message: problem });
    if (!written) return;
    try {
      encoderFor(type);
    } catch {
      issues.push({
        path,
        message: `the sink cannot write readings into a ${type} column; ` +
          "use String, Float32/64, (U)Int8-64, Bool, DateTime, DateTime64, optionally Nullable or LowCardinality",
      });
    }
  };
  const assetColumns = new Set(["tag", ...(model.assets?.columns ?? [])]);
  for (const [name, table] of Object.entries(model.tables)) {
    for (const [column, c] of Object.entries(table.columns)) {
      typeIssue(["tables", name, "columns", column, "type"], c.type, isReadingsTable(table));
    }
    if (isReadingsTable(table)) {
      if (BATCH_FIELDS in table.columns && perBatchColumns(table).length > 0) {
        issues.push({
          path: ["tables", name, "columns", BATCH_FIELDS],
          message:
            `the sink keeps this table's per-batch columns in a column of this name: rename it`,
        });
      }
      continue;
    }
    const source = model.tables[table.from];
    if (!source) continue;
    for (const [column, c] of Object.entries(table.columns)) {
      for (const [qualifier, ref] of referencedColumns(c.expr)) {
        const known = qualifier === "a" && table.join === "assets"
          ? assetColumns.has(ref)
          : (qualifier === undefined || qualifier === "r") && ref in source.columns;
        if (!known) {
          issues.push({
            path: ["tables", name, "columns", column, "expr"],
            message: `"${qualifier ? `${qualifier}.` : ""}${ref}" is not a column of ${
              qualifier === "a" ? "the asset model" : `table ${table.from}`
            }`,
          });
        }
      }
    }
  }
  for (const [name, agg] of Object.entries(model.aggregations)) {
    const source = aggregationInput(model, agg.from);
    for (const [column, c] of Object.entries(agg.columns)) {
      typeIssue(["aggregations", name, "columns", column, "type"], c.type, false);
      if (!source) continue;
      for (const [, ref] of referencedColumns(c.expr)) {
        if (!(ref in source.columns)) {
          issues.push({
            path: ["aggregations", name, "columns", column, "expr"],
            message: `"${ref}" is not a column of ${
              source.rollup ? "aggregation" : "table"
            } ${agg.from}`,
          });
        }
      }
    }
  }
  return issues;
}
