/**
 * Offline checks of a route's SQL against its declared parameters, so `validate` catches what
 * would otherwise answer 502 on every request: a `{name:Type}` placeholder that is not a
 * declared parameter, a placeholder type the parameter cannot fill (or a misspelt type), a
 * declared parameter no SQL uses, and more than one statement.
 */
import type { ParamSpec } from "./spec.ts";

/** The ClickHouse types each kind of parameter can fill (Nullable() allowed around them). */
const FILLS: Record<ParamSpec["type"], RegExp> = {
  string: /^(LowCardinality\()?String\)?$/,
  string_list: /^Array\((LowCardinality\()?String\)?\)$/,
  int: /^U?Int(8|16|32|64|128|256)$/,
  float: /^(Float32|Float64|Decimal\d*\(\d+(,\s*\d+)?\))$/,
  bool: /^(Bool|UInt8)$/,
  timestamp: /^(Int64|UInt64)$/,
};
const EXAMPLE: Record<ParamSpec["type"], string> = {
  string: "String or Nullable(String)",
  string_list: "Array(String)",
  int: "Int64, UInt32 or another integer type",
  float: "Float64",
  bool: "Bool",
  timestamp: "Int64 (milliseconds since 1970)",
};

export interface SqlIssue {
  /** Path below the route: ["sql"] or ["variants", "sql", value]. */
  path: (string | number)[];
  message: string;
}

/**
 * SQL with its string literals' contents and its comments blanked out (same length, so a
 * position in it is a position in the SQL): `;` and `{` inside them are not seen.
 */
export function code(sql: string): string {
  return sql.replace(
    /'(?:[^'\\]|\\.)*'|--[^\n]*|\/\*[\s\S]*?\*\//g,
    (m) => m[0] === "'" ? `'${" ".repeat(m.length - 2)}'` : " ".repeat(m.length),
  );
}

export function placeholders(sql: string): { name: string; type: string }[] {
  return [...code(sql).matchAll(/\{\s*([A-Za-z_]\w*)\s*:\s*([^}]*)\}/g)].map((m) => ({
    name: m[1]!,
    type: m[2]!.trim(),
  }));
}

export function checkRouteSql(
  sqls: [(string | number)[], string][],
  params: Record<string, ParamSpec>,
  /** Parameters the route uses outside its SQL (the one that picks a variant). */
  usedElsewhere: string[] = [],
): SqlIssue[] {
  const issues: SqlIssue[] = [];
  const used = new Set<string>(usedElsewhere);
  for (const [path, sql] of sqls) {
    const body = code(sql).trim().replace(/;\s*$/, "");
    if (body.includes(";")) {
      issues.push({ path, message: "holds more than one statement; a route runs exactly one" });
    }
    for (const { name, type } of placeholders(sql)) {
      used.add(name);
      const param = params[name];
      if (!param) {
        const declared = Object.keys(params);
        issues.push({
          path,
          message: `{${name}:${type}} is not a declared parameter` +
            (declared.length ? `; declared: ${declared.join(", ")}` : "; the route declares none"),
        });
        continue;
      }
      const inner = type.replace(/^Nullable\((.*)\)$/, "$1");
      if (!FILLS[param.type].test(inner)) {
        issues.push({
          path,
          message: `{${name}:${type}}: ${
            param.type === "int" ? "an" : "a"
          } ${param.type} parameter fills ${EXAMPLE[param.type]}, not ${type}`,
        });
      }
    }
  }
  for (const name of Object.keys(params)) {
    if (!used.has(name)) {
      issues.push({
        path: ["params", name],
        message: "is declared but no SQL of the route uses it",
      });
    }
  }
  return issues;
}

/** A value of the declared type for each parameter, for EXPLAIN (`validate --connect`). */
export function sampleParams(params: Record<string, ParamSpec>): Record<string, SampleValue> {
  const out: Record<string, SampleValue> = {};
  for (const [name, p] of Object.entries(params)) {
    const fallback = p.default ?? p.enum?.[0];
    out[name] = fallback !== undefined ? fallback : SAMPLES[p.type](p);
  }
  return out;
}

type SampleValue = string | number | boolean | string[];

const SAMPLES: Record<ParamSpec["type"], (p: ParamSpec) => SampleValue> = {
  string: () => "x",
  string_list: () => ["x"],
  int: (p) => p.min ?? 1,
  float: (p) => p.min ?? 0,
  bool: () => false,
  timestamp: () => Date.now(),
};
