/**
 * Whether a column of a readings table can hold what its `value:` delivers, the way the sink
 * writes it: rowbinary.ts encodes per-row values (text in a number column fails every insert,
 * null in a number or time column that cannot hold it too), typed query parameters carry a
 * batch's values (text there fails as well). A time anywhere but a DateTime or DateTime64
 * column, or decimals in an integer column, would be written without an error but not as the
 * source had them, so they are refused too. What each `value:` delivers is the engine's word
 * (engine/spec/values.ts); this file knows only ClickHouse's types.
 */
import type { FieldType, ValueSpec } from "../../engine/mod.ts";
import { unwrapType } from "./column_types.ts";

/** What the sink's writer makes of a column type, wrappers aside. */
type Kind = "string" | "float" | "int" | "int64" | "bool" | "datetime";

interface Column {
  kind: Kind;
  nullable: boolean;
}

const KINDS: [RegExp, Kind][] = [
  [/^String$/, "string"],
  [/^Float(32|64)$/, "float"],
  [/^U?Int(8|16|32)$/, "int"],
  [/^U?Int64$/, "int64"],
  [/^Bool$/, "bool"],
  [/^DateTime(64)?(\(.*\))?$/, "datetime"],
];

/** The writable kind of `type`, or undefined for a type the writer refuses (reported apart). */
function columnOf(type: string): Column | undefined {
  const { base, nullable } = unwrapType(type);
  const t = base.replace(/\s+/g, "");
  const kind = KINDS.find(([pattern]) => pattern.test(t))?.[1];
  return kind && { kind, nullable };
}

/** Kinds that write null as a value of their own ("" and false); the others cannot. */
const TAKES_NULL: ReadonlySet<Kind> = new Set(["string", "bool"]);

/** Why a value of type `from` does not fit a column of kind `to` ("" for no more to say). */
function misfit(from: FieldType, to: Kind): string | undefined {
  if (from === "time") return to === "datetime" ? undefined : " as one";
  if (to === "datetime") return "";
  if (from === "string") return to === "string" ? undefined : "";
  if (from === "float" && (to === "int" || to === "int64")) return " without losing its decimals";
  if (from === "bool" && to === "int64") return "";
  return undefined;
}

const DESCRIPTIONS: Record<FieldType, string> = {
  string: "text",
  int: "an integer",
  float: "a floating-point number",
  bool: "true or false",
  time: "a point in time",
};

function describe(value: ValueSpec): string {
  const values = value.values?.map((v) => JSON.stringify(v)).join(", ");
  return DESCRIPTIONS[value.type] + (values ? ` (${values})` : "");
}

/** A type that holds `value`, Nullable where it can be null or the column was. */
function fittingType(value: ValueSpec, column: Column): string {
  const nullable = value.nullable || column.nullable;
  if (value.type === "string") {
    const inner = nullable ? "Nullable(String)" : "String";
    return value.values ? `LowCardinality(${inner})` : inner;
  }
  const base = { int: "Int64", float: "Float64", bool: "Bool", time: "DateTime64(7, 'UTC')" }[
    value.type
  ];
  return nullable ? `Nullable(${base})` : base;
}

/**
 * Why a column of type `type` cannot hold `name` (a `value:` such as quality or fields.X), or
 * undefined when it can. `perBatch`: the column is stored per batch, where null is no error.
 */
export function valueProblem(
  name: string,
  type: string,
  values: Readonly<Record<string, ValueSpec>>,
  perBatch = false,
): string | undefined {
  const value = values[name];
  const column = columnOf(type);
  if (!value || !column) return undefined;
  const reason = misfit(value.type, column.kind);
  if (reason !== undefined) {
    const other = value.counterpart && values[value.counterpart];
    const instead = other && fits(other, column, perBatch)
      ? `use ${value.counterpart} for ${other.description}, or type `
      : "use type ";
    return `${name} is ${describe(value)} and cannot be stored in ${type}${reason}; ${instead}${
      fittingType(value, column)
    }`;
  }
  if (nullNotHeld(value, column, perBatch)) {
    return `${name} is null ${value.nullWhen ?? "on some readings"}, which ${type} cannot hold; ` +
      `use type Nullable(${type.trim()})`;
  }
  return undefined;
}

/**
 * Null fails only where the writer encodes it: per row. A batch's null is a NULL parameter,
 * which ClickHouse stores as the column's default.
 */
function nullNotHeld(value: ValueSpec, column: Column, perBatch: boolean): boolean {
  return value.nullable && !column.nullable && !TAKES_NULL.has(column.kind) && !perBatch &&
    value.per !== "batch";
}

function fits(value: ValueSpec, column: Column, perBatch: boolean): boolean {
  return misfit(value.type, column.kind) === undefined && !nullNotHeld(value, column, perBatch);
}
