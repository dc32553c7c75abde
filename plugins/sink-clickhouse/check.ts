/**
 * Offline checks of a storage model in ClickHouse's terms, run by `validate` before anything
 * connects: column types are types ClickHouse creates (and, for columns the sink writes, types
 * its RowBinary writer can encode, able to hold what each column's `value:` delivers:
 * value_fit.ts); TTL, sorting key, version and bucket columns have types ClickHouse accepts for
 * them; the expressions of derived tables, aggregations and partitions name only columns that
 * exist. What passes here, CREATE and every insert accept; `validate --connect` is where
 * ClickHouse itself explains the rest.
 */
import { aggregationInput, isReadingsTable } from "../../engine/mod.ts";
import type {
  Aggregation,
  AggregationInput,
  ModelIssue,
  ReadingsTable,
  StorageModel,
  Table,
  ValueSpec,
} from "../../engine/mod.ts";
import { encoderFor } from "./rowbinary.ts";
import { BATCH_FIELDS, perBatchColumns, placementOf, textColumn, timeColumnOf } from "./ddl.ts";
import { codecProblem } from "./codec.ts";
import { LOCAL_SUFFIX, localName } from "./cluster.ts";
import type { Options } from "./options.ts";
import {
  isDateOrTime,
  isDateTime,
  typeProblem,
  unwrapType,
  withoutNullable,
} from "./column_types.ts";
import { valueProblem } from "./value_fit.ts";

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

export function checkModel(
  model: StorageModel,
  values: Readonly<Record<string, ValueSpec>> = {},
  options?: Options,
): ModelIssue[] {
  const issues: ModelIssue[] = [];
  if (options?.tiering) issues.push(...tieringIssues(model, options.tiering));
  if (options?.cluster) issues.push(...localNameIssues(model));
  const assetColumns = new Set(["tag", ...(model.assets?.columns ?? [])]);
  for (const [name, table] of Object.entries(model.tables)) {
    for (const [column, c] of Object.entries(table.columns)) {
      const path = ["tables", name, "columns", column];
      const problem = typeMessage(c.type, isReadingsTable(table));
      if (problem) issues.push({ path: [...path, "type"], message: problem });
      const misfit = !problem && "value" in c &&
        valueProblem(c.value, c.type, values, c.stored === "per_batch");
      if (misfit) issues.push({ path: [...path, "value"], message: misfit });
      const codec = !problem && c.codec !== undefined && codecProblem(c.codec, c.type);
      if (codec) issues.push({ path: [...path, "codec"], message: codec });
    }
    issues.push(...tableIssues(name, table));
    if (isReadingsTable(table)) {
      if (BATCH_FIELDS in table.columns && perBatchColumns(table).length > 0) {
        issues.push({
          path: ["tables", name, "columns", BATCH_FIELDS],
          message:
            `the sink keeps this table's per-batch columns in a column of this name: rename it`,
        });
      }
      issues.push(...computedIssues(name, table));
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
    if (source && !source.rollup) issues.push(...bucketIssues(name, agg, source));
    for (const [column, c] of Object.entries(agg.columns)) {
      const problem = typeMessage(c.type, false);
      if (problem) {
        issues.push({ path: ["aggregations", name, "columns", column, "type"], message: problem });
      }
      const codec = !problem && c.codec !== undefined && codecProblem(c.codec, c.type);
      if (codec) {
        issues.push({ path: ["aggregations", name, "columns", column, "codec"], message: codec });
      }
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

/**
 * Columns a readings table computes when read (`stored: alias`, `per_batch`, `unless_value`)
 * cannot key, partition or age its rows; an `unless_value` column's texts are kept in a column
 * of their own name, which the table must not declare.
 */
function computedIssues(name: string, table: ReadingsTable): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const computed = (column: string) => {
    const stored = table.columns[column]?.stored;
    return stored && stored !== "per_row" ? stored : undefined;
  };
  const refuse = (path: (string | number)[], column: string, what: string) =>
    issues.push({
      path: ["tables", name, ...path],
      message: `column "${column}" is computed when read (stored: ${
        computed(column)
      }): ${what} needs a stored column`,
    });
  table.order_by.forEach((c, i) => {
    if (computed(c)) refuse(["order_by", i], c, "a sorting key");
  });
  if (table.ttl && computed(table.ttl.column)) {
    refuse(["ttl", "column"], table.ttl.column, "a retention");
  }
  for (const [column, c] of Object.entries(table.columns)) {
    const text = textColumn(column);
    if (c.stored === "unless_value" && text in table.columns) {
      issues.push({
        path: ["tables", name, "columns", column, "stored"],
        message:
          `the sink keeps this column's texts in a column named "${text}", which this table declares too: rename one`,
      });
    }
  }
  return issues;
}

/** Why ClickHouse, or for a column the sink writes (`written`) its writer, refuses `type`. */
function typeMessage(type: string, written: boolean): string | undefined {
  const problem = typeProblem(type);
  if (problem || !written) return problem;
  try {
    encoderFor(type);
    return undefined;
  } catch {
    return `the sink cannot write readings into a ${type} column; ` +
      "use String, Float32/64, (U)Int8-64, Bool, DateTime, DateTime64, optionally Nullable or LowCardinality";
  }
}

/** What ClickHouse refuses at CREATE or at every insert: a table's TTL, sorting key, engine, partition. */
function tableIssues(name: string, table: Table): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const at = (path: (string | number)[], message: string) =>
    issues.push({ path: ["tables", name, ...path], message });
  const typeOf = (column: string) => table.columns[column]?.type;
  const ttlType = table.ttl && typeOf(table.ttl.column);
  if (ttlType) {
    const { base, nullable } = unwrapType(ttlType);
    if (!isDateOrTime(base)) {
      at(
        ["ttl", "column"],
        `column "${
          table.ttl!.column
        }" is ${ttlType}: a TTL counts from a Date, Date32, DateTime or DateTime64 column`,
      );
    } else if (nullable) {
      at(
        ["ttl", "column"],
        `column "${
          table.ttl!.column
        }" is ${ttlType}: ClickHouse refuses a TTL on a column that can be null; use ${
          withoutNullable(ttlType)
        }`,
      );
    }
  }
  if (!truthy(table.settings?.allow_nullable_key)) {
    table.order_by.forEach((column, i) => {
      const type = typeOf(column);
      if (type && unwrapType(type).nullable) {
        at(
          ["order_by", i],
          `column "${column}" is ${type}: ClickHouse refuses a sorting key that can be null; use ${
            withoutNullable(type)
          } (or settings: { allow_nullable_key: 1 })`,
        );
      }
    });
  }
  const version = /^(?:Replicated)?ReplacingMergeTree\s*\(\s*`?([A-Za-z_]\w*)`?\s*(?:,.*)?\)$/
    .exec(table.engine.trim())?.[1];
  const versionType = version && typeOf(version);
  if (version && !versionType) at(["engine"], `"${version}" is not a column of this table`);
  if (version && versionType) {
    const { base, nullable } = unwrapType(versionType);
    if (nullable || !(isDateOrTime(base) || /^(U?Int\d+|Bool|Float(32|64))$/.test(base))) {
      at(
        ["engine"],
        `the version column "${version}" is ${versionType}: ReplacingMergeTree needs an integer, Date, DateTime or DateTime64 column that cannot be null`,
      );
    }
  }
  for (const [qualifier, ref] of referencedColumns(table.partition_by ?? "")) {
    if (qualifier || !(ref in table.columns)) {
      at(
        ["partition_by"],
        `"${qualifier ? `${qualifier}.` : ""}${ref}" is not a column of this table`,
      );
    }
  }
  return issues;
}

/** An aggregation's buckets are cut from a DateTime (or DateTime64) column, by a tag column. */
function bucketIssues(name: string, agg: Aggregation, source: AggregationInput): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const time = source.columns[agg.time_column];
  if (time && !isDateTime(unwrapType(time).base)) {
    issues.push({
      path: ["aggregations", name, "time_column"],
      message:
        `column "${agg.time_column}" of table ${agg.from} is ${time}: buckets are cut from a DateTime or DateTime64 column`,
    });
  }
  const tag = source.columns[agg.tag_column];
  if (tag && unwrapType(tag).nullable) {
    issues.push({
      path: ["aggregations", name, "tag_column"],
      message:
        `column "${agg.tag_column}" of table ${agg.from} is ${tag}: it keys the aggregation's rows, and ClickHouse refuses a sorting key that can be null`,
    });
  }
  return issues;
}

/**
 * Tiering names tables of the model, each with a column to count its rows' age from, moving
 * them before the table's TTL deletes them, on the policy tiering names.
 */
function tieringIssues(
  model: StorageModel,
  tiering: NonNullable<Options["tiering"]>,
): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const at = ["sink", "clickhouse", "tiering", "tables"];
  for (const [name, moves] of Object.entries(tiering.tables)) {
    const table = model.tables[name];
    const agg = model.aggregations[name];
    if (!table && !agg) {
      issues.push({
        path: [...at, name],
        message: `"${name}" is not a table or aggregation of this spec (${
          [...Object.keys(model.tables), ...Object.keys(model.aggregations)].join(", ") || "none"
        })`,
      });
      continue;
    }
    const ttl = table ? table.ttl : agg!.ttl ? { keep: agg!.ttl } : undefined;
    const column = table
      ? table.ttl?.column ?? (isReadingsTable(table) ? timeColumnOf(table) : undefined)
      : agg!.bucket_column;
    if (!column) {
      issues.push({
        path: [...at, name],
        message:
          `table ${name} has neither a ttl nor a time column to count its rows' age from: give it a ttl`,
      });
    }
    moves.forEach((m, i) => {
      if (ttl && m.after >= ttl.keep) {
        issues.push({
          path: [...at, name, i, "after"],
          message: `is not before the ${
            table ? "table" : "aggregation"
          }'s ttl, which deletes its rows first: move them earlier or keep them longer`,
        });
      }
    });
    const own = (table ?? agg)!.settings?.storage_policy;
    if (own !== undefined) {
      issues.push({
        path: [table ? "tables" : "aggregations", name, "settings", "storage_policy"],
        message: `is set here and by tiering (policy "${tiering.policy}"): keep one`,
      });
    }
  }
  return issues;
}

/** On a cluster, `<name>_local` is where table `<name>`'s shard keeps its rows. */
function localNameIssues(model: StorageModel): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const names = [
    ...Object.keys(model.tables).map((n) => ["tables", n]),
    ...Object.keys(model.aggregations).map((n) => ["aggregations", n]),
  ];
  if (model.assets?.table) names.push(["assets", model.assets.table]);
  const all = new Set(names.map(([, n]) => n!));
  for (const [section, name] of names) {
    if (!name!.endsWith(LOCAL_SUFFIX)) continue;
    const owner = name!.slice(0, -LOCAL_SUFFIX.length);
    if (all.has(owner) && placementOf(model, owner).kind !== "copy") {
      issues.push({
        path: section === "assets" ? ["assets", "table"] : [section!, name!],
        message: `on a cluster, ${localName(owner)} holds the shard's rows of ${owner}: rename it`,
      });
    }
  }
  return issues;
}

/** A setting's value as ClickHouse reads a flag: 1, true, "1", "true". */
function truthy(value: unknown): boolean {
  return value === true || value === 1 || value === "1" || value === "true";
}
