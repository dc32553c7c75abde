/**
 * ClickHouse's column types as a spec may name them: whether ClickHouse creates a column of the
 * type (with its default settings, as the sink creates tables), and what a type is once its
 * Nullable and LowCardinality wrappers are taken off. Offline, for `validate`.
 */

const SIMPLE_TYPES = new Set([
  "String",
  "Bool",
  "UUID",
  "Date",
  "Date32",
  "IPv4",
  "IPv6",
  ..."Int8 Int16 Int32 Int64 Int128 Int256 UInt8 UInt16 UInt32 UInt64 UInt128 UInt256".split(" "),
  "Float32",
  "Float64",
  "BFloat16",
]);
const WRAPPERS = new Set(["Nullable", "LowCardinality", "Array"]);

/** Why `type` is not a type ClickHouse creates a column of, or undefined when it is one. */
export function typeProblem(type: string): string | undefined {
  const t = type.trim();
  if (SIMPLE_TYPES.has(t)) return undefined;
  if (t === "Nothing") return `"Nothing" holds no values: no column can have it`;
  const zone = /^DateTime(?:64\s*\(\s*\d\s*,|\s*\()\s*'([^']*)'\s*\)$/.exec(t)?.[1];
  if (zone !== undefined && !knownZone(zone)) return `unknown time zone "${zone}" in ${t}`;
  if (/^DateTime(\s*\(\s*'[^']*'\s*\))?$/.test(t)) return undefined;
  if (/^DateTime64\s*\(\s*\d\s*(,\s*'[^']*'\s*)?\)$/.test(t)) return undefined;
  if (/^Decimal(32|64|128|256)?\s*\(\s*\d+\s*(,\s*\d+\s*)?\)$/.test(t)) return decimalProblem(t);
  if (/^FixedString\s*\(\s*0*[1-9]\d*\s*\)$/.test(t)) return undefined;
  if (/^Enum(8|16)\s*\(.+\)$/.test(t)) return undefined;
  const m = /^([A-Za-z]+)\s*\((.*)\)$/.exec(t);
  if (m && WRAPPERS.has(m[1]!)) return wrapperProblem(t, m[1]!, m[2]!.trim()) ?? typeProblem(m[2]!);
  if (m && (m[1] === "Map" || m[1] === "Tuple")) {
    if (m[1] === "Map" && /^(LowCardinality\s*\(\s*)?Nullable\s*\(/.test(splitTop(m[2]!)[0]!)) {
      return `ClickHouse refuses ${t}: a Map's key cannot be Nullable`;
    }
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

/** What ClickHouse refuses of Nullable and LowCardinality around a type (by default). */
function wrapperProblem(t: string, wrapper: string, inner: string): string | undefined {
  const innerWrapper = /^([A-Za-z]+)\s*\(/.exec(inner)?.[1];
  if (wrapper === "Nullable" && innerWrapper === "LowCardinality") {
    return `ClickHouse refuses ${t}: write LowCardinality(Nullable(...)) instead`;
  }
  if (wrapper === "Nullable" && innerWrapper && NOT_NULLABLE.has(innerWrapper)) {
    return `ClickHouse refuses ${t}: ${innerWrapper} cannot be inside Nullable`;
  }
  const plain = inner.replace(/^Nullable\s*\((.*)\)$/, "$1").trim();
  if (wrapper === "LowCardinality" && !/^(String|UUID|FixedString\s*\(.*\))$/.test(plain)) {
    return `ClickHouse refuses ${t}: LowCardinality is for String, FixedString and UUID; use ${inner}`;
  }
  return undefined;
}

const NOT_NULLABLE = new Set(["Nullable", "Array", "Map", "Tuple"]);

/** Decimal bounds: precision 1 to 76, scale at most the precision. */
function decimalProblem(t: string): string | undefined {
  const [, size, a, b] = /^Decimal(\d*)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$/.exec(t)!;
  const precision = size ? { 32: 9, 64: 18, 128: 38, 256: 76 }[size]! : Number(a);
  const scale = Number(size ? a : b ?? 0);
  if (precision < 1 || precision > 76) return `${t}: the precision must be 1 to 76`;
  if (scale > precision) return `${t}: the scale must be at most the precision (${precision})`;
  return undefined;
}

function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
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

/** A type without its Nullable and LowCardinality wrappers, and whether it can hold null. */
export function unwrapType(type: string): { base: string; nullable: boolean } {
  let base = type.trim();
  let nullable = false;
  for (let m; (m = /^(Nullable|LowCardinality)\s*\((.*)\)$/.exec(base));) {
    if (m[1] === "Nullable") nullable = true;
    base = m[2]!.trim();
  }
  return { base, nullable };
}

/** `type` without Nullable: the type of a column that cannot hold null. */
export function withoutNullable(type: string): string {
  return type.trim().replace(/Nullable\s*\((.*)\)/, "$1");
}

/** Date, Date32, DateTime or DateTime64, wrappers aside. */
export const isDateOrTime = (base: string) =>
  /^(Date|Date32|DateTime(64)?(\s*\(.*\))?)$/.test(base);

/** DateTime or DateTime64, wrappers aside. */
export const isDateTime = (base: string) => /^DateTime(64)?(\s*\(.*\))?$/.test(base);
