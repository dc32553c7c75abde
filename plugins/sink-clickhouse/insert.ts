/**
 * How a batch of readings becomes one INSERT. Only what varies per row travels in the
 * RowBinary body; fields that are the same for the whole batch (for the Historian, the query
 * options it echoes back) become typed parameters of an `INSERT … SELECT … FROM input(…)`.
 * That keeps rows small and skips per-row parsing of constant columns, which ClickHouse
 * otherwise pays on every LowCardinality column. Columns stored per batch are one parameter
 * together: the JSON object their ALIAS columns read (ddl.ts, BATCH_FIELDS). A text stored
 * `unless_value` travels as sent and the store keeps it only where it is not its number's text.
 */
import { PluginError, storedColumnOf } from "../../engine/mod.ts";
import type { QueryParams, Reading, ReadingsTable, Ticks } from "../../engine/mod.ts";
import { BATCH_FIELDS, BATCH_FIELDS_TYPE, literal, perBatchColumns, q, textColumn } from "./ddl.ts";
import { encoderFor } from "./rowbinary.ts";
import type { RowWriter } from "./rowbinary.ts";
import type { ValueEncoder } from "./rowbinary.ts";

type Part = Exclude<keyof Reading, "fields">;

const PARTS: Record<string, Part | undefined> = {
  tag: "tag",
  time: "time",
  value: "value",
  text: "text",
  quality: "quality",
  quality_code: "qualityCode",
};

/** One column of a readings table and where its value comes from. */
export interface ColumnPlan {
  /** The spec's column: its name in the insert's input, and what reads of the table name. */
  name: string;
  /**
   * The column written when it is not `name`: an `unless_value` column's texts (textColumn),
   * written by `expr` over the insert's input (the text, or NULL where it is the number's).
   */
  stores?: string;
  expr?: string;
  type: string;
  part?: Part;
  field?: string;
  /** The same for every row the pipeline writes: the site. */
  constant?: string;
  /** BATCH_FIELDS: the per-batch columns it holds, as [column, field, type]. */
  perBatch?: [string, string, string][];
  encode: ValueEncoder;
}

/**
 * The columns the sink writes (ingested_at is the store's own default); checks their types.
 * A site column holds `site` on every row.
 */
export function planColumns(tableName: string, table: ReadingsTable, site = ""): ColumnPlan[] {
  const perBatch = perBatchColumns(table);
  const plans = Object.entries(table.columns).filter(([, c]) =>
    c.value !== "ingested_at" && c.stored !== "per_batch" && c.stored !== "alias"
  ).map(
    ([name, c]): ColumnPlan => {
      let encode: ValueEncoder;
      try {
        encode = encoderFor(c.type);
      } catch (e) {
        throw new PluginError(
          "sink-clickhouse",
          `table ${tableName}, column ${name}: ${(e as Error).message}`,
        );
      }
      if (c.value === "site") return { name, type: c.type, constant: site, encode };
      if (c.stored === "unless_value") {
        const stores = textColumn(name);
        const expr = keptText(name, storedColumnOf(table, "value")!);
        return { name, stores, expr, type: c.type, part: "text", encode };
      }
      const part = PARTS[c.value];
      return part
        ? { name, type: c.type, part, encode }
        : { name, type: c.type, field: c.value.slice(7), encode };
    },
  );
  if (perBatch.length > 0) {
    plans.push({
      name: BATCH_FIELDS,
      type: BATCH_FIELDS_TYPE,
      perBatch,
      encode: encoderFor(BATCH_FIELDS_TYPE),
    });
  }
  return plans;
}

/**
 * What an `unless_value` column keeps of a row's text, so that its ALIAS (ddl.ts) gives every
 * text back exactly: NULL where the text is the one ClickHouse itself makes of the row's number
 * (toString), the number's text where the row has a number but no text, else the text as sent.
 * NULLs are written over "" (an `if` returning the input's column would keep each text under
 * the null map, and store it after all).
 */
export function keptText(text: string, value: string): string {
  const [t, v] = [q(text), q(value)];
  const none = `(ifNull(${t} = toString(${v}), 0) OR (isNull(${v}) AND isNull(${t})))`;
  return `if(${none}, NULL, toNullable(if(${none}, '', if(isNull(${t}), ` +
    `toString(assumeNotNull(${v})), assumeNotNull(${t})))))`;
}

/** A field of the batch itself, not one every object inherits (a field named `constructor`). */
const ownField = (fields: Record<string, unknown>, name: string) =>
  Object.hasOwn(fields, name) ? fields[name] : undefined;

/**
 * The per-batch columns' values as BATCH_FIELDS holds them: a JSON object by column name,
 * in a form JSONExtract reads back exactly (non-finite floats and DateTime64 as strings).
 */
export function batchFieldsJson(
  perBatch: readonly [string, string, string][],
  batchFields: Record<string, unknown>,
): string {
  const parts = perBatch.map(([column, field, type]) => {
    const value = ownField(batchFields, field);
    let json: string;
    if (value === null || value === undefined) json = "null";
    else if (typeof value === "number") {
      json = Number.isFinite(value)
        ? JSON.stringify(value)
        : `"${Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf"}"`;
    } else if (typeof value === "bigint" && !/DateTime64/.test(type)) json = value.toString();
    else json = JSON.stringify(paramValue(value, type));
    return `${JSON.stringify(column)}:${json}`;
  });
  return `{${parts.join(",")}}`;
}

/** The statement a batch is inserted with, and the columns each row carries in its body. */
export interface InsertShape {
  sql: string;
  params: QueryParams;
  perRow: ColumnPlan[];
  batchFields: Record<string, unknown>;
  /** Appends rows in the per-row columns; see rowEncoder. */
  encode: RowsEncoder;
}

type RowsEncoder = (
  w: RowWriter,
  rows: readonly Reading[],
  batchFields: Record<string, unknown>,
) => void;

export function insertShape(
  target: string,
  plans: ColumnPlan[],
  sample: Reading | undefined,
  batchFields: Record<string, unknown> = {},
): InsertShape {
  // A source gives every reading of a batch the same per-row fields (those it declares).
  const rowFields = new Set(Object.keys(sample?.fields ?? {}));
  const perRow = plans.filter((p) => p.part || (p.field && rowFields.has(p.field)));
  const params: QueryParams = {};
  const exprs = plans.map((p, i) => {
    if (perRow.includes(p)) return p.expr ?? q(p.name);
    const value = p.perBatch
      ? batchFieldsJson(p.perBatch, batchFields)
      : p.constant ?? ownField(batchFields, p.field!);
    if (value === null || value === undefined) return "NULL";
    params[`f${i}`] = paramValue(value, p.type);
    return `{f${i}:${p.type.replace(/^\s*LowCardinality\((.*)\)\s*$/, "$1")}}`;
  });
  const structure = perRow.map((p) => `${q(p.name)} ${p.type}`).join(", ");
  return {
    encode: rowEncoder(plans, perRow),
    sql:
      `INSERT INTO ${target} (${plans.map((p) => q(p.stores ?? p.name)).join(", ")}) SELECT ${
        exprs.join(", ")
      } ` +
      `FROM input(${literal(structure)}) FORMAT RowBinary`,
    params,
    perRow,
    batchFields,
  };
}

/** Appends the rows' RowBinary, in the shape's per-row columns, to `w`. */
export function encodeRows(w: RowWriter, shape: InsertShape, rows: readonly Reading[]): void {
  shape.encode(w, rows, shape.batchFields);
}

const encoders = new WeakMap<ColumnPlan[], Map<string, RowsEncoder>>();

/**
 * A function that writes rows in these columns, compiled once per table and set of per-row
 * columns (as Zod v4 compiles its object parsers): each column's value is read by a property
 * access of its own, `r.time` or `r.fields["QualityDetail"]`, instead of one generic loop whose
 * keyed reads of ever-changing names V8 can only look up the slow way (its megamorphic lookup
 * was 6 % of the engine's samples in the backfill; encoding is 2.4 times faster this way).
 * Names enter the code only as JSON string literals.
 */
function rowEncoder(plans: ColumnPlan[], perRow: ColumnPlan[]): RowsEncoder {
  const key = perRow.map((p) => p.part ?? `fields.${p.field}`).join("\0");
  let byColumns = encoders.get(plans);
  if (!byColumns) encoders.set(plans, byColumns = new Map());
  const known = byColumns.get(key);
  if (known) return known;
  const lines = perRow.map((p, i) => {
    if (p.part) return `e${i}(w, r[${JSON.stringify(p.part)}]);`;
    const name = JSON.stringify(p.field);
    // A name every object inherits (constructor, toString) counts only as the row's own.
    const inherited = p.field! in Object.prototype;
    const own = inherited
      ? `(r.fields && Object.hasOwn(r.fields, ${name}) ? r.fields[${name}] : undefined)`
      : `r.fields?.[${name}]`;
    const batch = inherited
      ? `(Object.hasOwn(bf, ${name}) ? bf[${name}] : undefined)`
      : `bf[${name}]`;
    return `e${i}(w, ${own} ?? ${batch} ?? null);`;
  });
  const body = `${perRow.map((_, i) => `const e${i} = enc[${i}];`).join("\n")}
return (w, rows, bf) => {
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n];
    ${lines.join("\n    ")}
  }
};`;
  const encode = new Function("enc", body)(perRow.map((p) => p.encode)) as RowsEncoder;
  byColumns.set(key, encode);
  return encode;
}

function paramValue(value: unknown, type: string): string | number | boolean {
  if (typeof value === "bigint") return /DateTime64/.test(type) ? chTime(value) : value.toString();
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "string") {
    return value;
  }
  throw new TypeError(`Cannot write ${JSON.stringify(value)} as ${type}`);
}

/** Ticks as ClickHouse's DateTime64(7) text: `2024-01-31 12:00:00.1234567`. */
export function chTime(ticks: Ticks): string {
  const ms = ticks / 10_000n - (ticks % 10_000n < 0n ? 1n : 0n);
  const sub = ticks - ms * 10_000n;
  const iso = new Date(Number(ms)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${sub.toString().padStart(4, "0")}`;
}
