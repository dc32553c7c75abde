/**
 * The storage model a spec declares: tables, aggregations and the asset model. The engine
 * validates their shape and hands them to the sink, which turns them into DDL; nothing here
 * knows SQL beyond carrying the sink's expressions and types as text.
 *
 * - A table `from: readings` receives the source's readings; each column says which part of a
 *   reading it holds (`value: time`, `value: fields.wwVersion`, …).
 * - A table `from: <table>` is derived from another table by the store itself (a materialized
 *   view), optionally joined with the asset model (`join: assets`); its columns are expressions.
 * - An aggregation groups a table's rows per tag and time bucket; the store recomputes the
 *   buckets a write touched, so retries, replays and revised points never double count.
 */
import { z } from "zod";
import { compilePattern, unknownPlaceholders } from "../assets.ts";
import { duration } from "./duration.ts";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ident = z.string().regex(IDENT, "use letters, digits and _ only, not starting with a digit");

/**
 * What a column of a `from: readings` table holds: the engine's reading (`quality` is good,
 * uncertain or bad; `quality_code` the source's own code), the pipeline's `site`, or a field the
 * source declares.
 */
export const READING_PARTS = [
  "tag",
  "time",
  "value",
  "text",
  "quality",
  "quality_code",
  "ingested_at",
  "site",
] as const;
export type ReadingPart = typeof READING_PARTS[number];

const readingValue = z.string().refine(
  (v) =>
    (READING_PARTS as readonly string[]).includes(v) || /^fields\.[A-Za-z_][A-Za-z0-9_]*$/.test(v),
  {
    message: `expected one of ${
      READING_PARTS.join(", ")
    }, or fields.<name> for a field the source provides`,
  },
);

const ttl = z.strictObject({
  column: ident.describe("Time column the retention counts from"),
  keep: duration({ min: 86_400_000 }).describe('How long rows are kept, e.g. "90d" or "2y"'),
}).describe("Retention: rows older than `keep` are deleted by the store");

const storageSettings = z.record(ident, z.union([z.string(), z.number(), z.boolean()]))
  .describe("Store-specific table settings");

const columnType = z.string().min(1).describe(
  'Column type in the store\'s terms, e.g. "Nullable(Float64)"',
);

/** How the store compresses a column; the sink checks the codecs against the column's type. */
const columnCodec = z.string().min(1).describe(
  'Compression codecs in the store\'s terms, applied in order, e.g. "Delta, ZSTD(3)"; the ' +
    "store's default compression when absent",
);

/** How a readings table keeps a column (`per_row`, the default: a value on every row). */
export const STORED = ["per_row", "per_batch", "alias", "unless_value"] as const;

const readingsColumn = z.strictObject({
  type: columnType,
  value: readingValue.describe("The part of a reading this column holds"),
  stored: z.enum(STORED).default("per_row").describe(
    "per_batch: a field the same for every reading of a batch (the source declares it so) is " +
      "kept once per batch, not once per row, and still read by its column's name. alias: not " +
      "stored, read from the column that stores the same part of the reading (the Historian's " +
      "StartDateTime of a raw row is its DateTime). unless_value: a text kept only where it is " +
      "not the text of the row's number (the column holding `value`), which is what it reads " +
      "back there (the Historian's vValue)",
  ),
  codec: columnCodec.optional(),
}).superRefine((c, ctx) => {
  const at = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  if (c.stored === "per_batch" && !c.value.startsWith("fields.")) {
    at("stored", "only a source's field (fields.<name>) can be stored per batch");
  }
  if (c.stored === "unless_value" && c.value !== "text") {
    at(
      "stored",
      "only the reading's text (value: text) can be kept unless it is the number's text",
    );
  }
  if (c.stored === "alias" && (c.value === "tag" || c.value === "site")) {
    at("stored", `the ${c.value} keys the rows: store it in one column, not as an alias`);
  }
  if (c.codec !== undefined && (c.stored === "per_batch" || c.stored === "alias")) {
    at("codec", `a column stored ${c.stored} is computed when read: there is nothing to compress`);
  }
});

export const readingsTable = z.strictObject({
  from: z.literal("readings"),
  description: z.string().optional(),
  columns: z.record(ident, readingsColumn)
    .refine((c) => Object.keys(c).length > 0, "must declare at least one column"),
  engine: z.string().min(1).default("MergeTree").describe(
    "Table engine, e.g. ReplacingMergeTree(IngestedAt)",
  ),
  order_by: z.array(ident).min(1).describe("Sorting key columns"),
  partition_by: z.string().optional().describe("Partition expression, e.g. toYYYYMM(DateTime)"),
  ttl: ttl.optional(),
  settings: storageSettings.optional(),
}).superRefine((t, ctx) => {
  // What a computed column reads must be stored in the same table.
  for (const [name, c] of Object.entries(t.columns)) {
    const issue = (message: string) =>
      ctx.addIssue({ code: "custom", path: ["columns", name, "stored"], message });
    const stores = (part: string) =>
      Object.entries(t.columns).some(([n, o]) =>
        n !== name && o.value === part && (o.stored === "per_row" || o.stored === "unless_value")
      );
    if (c.stored === "alias" && c.value !== "tag" && c.value !== "site" && !stores(c.value)) {
      issue(`no other column of this table stores the reading's ${c.value} for it to read`);
    }
    if (c.stored === "unless_value" && c.value === "text" && !stores("value")) {
      issue("no column of this table stores the reading's number (value: value) to compare with");
    }
  }
});

export const derivedTable = z.strictObject({
  from: ident.refine((v) => v !== "readings", {
    message:
      "`from: readings` means the source's readings, whose columns take `value:`: a derived table cannot read a table named readings (give that table another name)",
  }).describe("The table this one is derived from"),
  join: z.literal("assets").optional().describe("Join each row with the asset model on its tag"),
  description: z.string().optional(),
  columns: z.record(
    ident,
    z.strictObject({
      type: columnType,
      expr: z.string().min(1).describe("SQL expression"),
      codec: columnCodec.optional(),
    }),
  )
    .refine((c) => Object.keys(c).length > 0, "must declare at least one column"),
  engine: z.string().min(1).default("MergeTree"),
  order_by: z.array(ident).min(1),
  partition_by: z.string().optional(),
  ttl: ttl.optional(),
  settings: storageSettings.optional(),
});

export const table = z.union([readingsTable, derivedTable]);

export const aggregation = z.strictObject({
  from: ident.describe(
    "The table aggregated, or another aggregation (a rollup: coarser buckets of its buckets)",
  ),
  description: z.string().optional(),
  tag_column: ident.describe(
    "Tag column of the source table, kept as the aggregation's tag column",
  ),
  time_column: ident.describe("Time column of the source table"),
  bucket: duration({ min: 1_000 }).describe('Bucket width, e.g. "1m"'),
  bucket_column: ident.describe("Name of the bucket start column"),
  columns: z.record(
    ident,
    z.strictObject({ type: columnType, expr: z.string().min(1), codec: columnCodec.optional() }),
  )
    .refine((c) => Object.keys(c).length > 0, "must declare at least one column"),
  ttl: duration({ min: 86_400_000 }).optional().describe("Retention counted from the bucket start"),
  settings: storageSettings.optional(),
});

/** A tag field a source provides, addressed as `fields.<name>`. */
const tagField = z.string().regex(/^fields\.[A-Za-z_][A-Za-z0-9_]*$/, {
  message: "expected fields.<name>, a per-tag field the source provides",
});

/**
 * AVEVA's summary views, kept by the store from a readings table (docs/summaries.md has the
 * rules): per tag and cycle, time-weighted statistics of analog tags (AnalogSummaryHistory) and
 * time in state of discrete and string tags (StateSummaryHistory). A unit's commit recomputes
 * exactly the cycles its points decide, from the point before them to the tag's next point.
 */
export const summaries = z.strictObject({
  from: ident.describe("The readings table the summaries are computed from"),
  description: z.string().optional(),
  tag_column: ident.describe("Its tag column"),
  time_column: ident.describe("Its time column"),
  value_column: ident.describe("Its numeric value column (NULL on a gap marker)"),
  text_column: ident.optional().describe("Its text value column, for string states"),
  quality: z.string().min(1).describe(
    "Expression in the store's terms giving a row's OPC quality code: 192–255 good, 64–191 " +
      "uncertain, anything else bad",
  ),
  quality_rule: z.enum(["extended", "good"]).default("extended").describe(
    "AVEVA's wwQualityRule: extended counts good and uncertain values, good only good ones " +
      "(uncertain values are then left out like gaps)",
  ),
  interpolation: tagField.optional().describe(
    "The tag field saying how an analog tag's value moves between points: linear or " +
      "stair-step (AVEVA's InterpolationType 0 stair-step, 1 linear, 254 system default); " +
      "linear when absent",
  ),
  integral_divisor: tagField.optional().describe(
    "The tag field holding the divisor of its Integral (its engineering unit's " +
      "IntegralDivisor: 3600 turns m3/h over seconds into m3); 1 when absent",
  ),
  cycles: z.array(z.strictObject({
    every: duration({ min: 1_000 }).describe('Cycle length on the UTC grid, e.g. "1m"'),
    keep: duration({ min: 86_400_000 }).optional().describe(
      "How long rows of this cycle are kept, counted from the cycle start; for good when absent",
    ),
  })).min(1).describe(
    "The cycles, shortest first, each a multiple of the one before (the coarser rows are " +
      "rolled up from the finer ones)",
  ),
  analog_table: ident.default("AnalogSummaryHistory").describe(
    "Name under which analog summaries are read (one row per tag and cycle)",
  ),
  state_table: ident.default("StateSummaryHistory").describe(
    "Name under which states are read (one row per tag, cycle and state)",
  ),
}).superRefine((s, ctx) => {
  s.cycles.forEach((c, i) => {
    const before = s.cycles[i - 1];
    if (before && (c.every <= before.every || c.every % before.every !== 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["cycles", i, "every"],
        message: `must be a multiple of the cycle before it (${before.every / 1000} s), and longer`,
      });
    }
  });
  if (s.analog_table === s.state_table) {
    ctx.addIssue({
      code: "custom",
      path: ["state_table"],
      message: "must differ from analog_table",
    });
  }
});

/** One asset-model rule: tags matching `tags` get these attributes. */
export const assetRule = z.strictObject({
  tags: z.string().min(1).describe(
    'Glob ("Line1.*") or /regex/ with named groups usable as {name} in values',
  ),
  set: z.record(ident, z.string()).describe(
    "Attributes, e.g. { machine: Press01, sensor_type: '{sensor}' }",
  ),
}).superRefine((rule, ctx) => {
  let pattern: RegExp;
  try {
    pattern = compilePattern(rule.tags);
  } catch (e) {
    ctx.addIssue({ code: "custom", path: ["tags"], message: (e as Error).message });
    return;
  }
  for (const [column, value] of Object.entries(rule.set)) {
    for (const name of unknownPlaceholders(pattern, value)) {
      ctx.addIssue({
        code: "custom",
        path: ["set", column],
        message:
          `{${name}} is neither a named group of the pattern nor tag metadata (tag, unit, description, type)`,
      });
    }
  }
});

export const assets = z.strictObject({
  table: ident.optional().describe(
    "The asset dimension's table (default <pipeline>_assets): one row per tag, kept for good",
  ),
  columns: z.array(ident).min(1).describe("Attribute columns of the asset model, in order"),
  rules: z.array(assetRule).describe(
    "First matching rule wins; a tag no rule matches is listed with empty attributes",
  ),
}).superRefine((a, ctx) => {
  a.rules.forEach((rule, i) => {
    for (const column of Object.keys(rule.set)) {
      if (!a.columns.includes(column)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", i, "set", column],
          message: `"${column}" is not one of assets.columns`,
        });
      }
    }
  });
});

export type ReadingsTable = z.output<typeof readingsTable>;
export type DerivedTable = z.output<typeof derivedTable>;
export type Table = z.output<typeof table>;
export type Aggregation = z.output<typeof aggregation>;
export type Assets = z.output<typeof assets>;
export type SummariesSpec = z.output<typeof summaries>;

/** True for a table fed by the source's readings; false for a table derived from another. */
export function isReadingsTable(table: Table): table is ReadingsTable {
  return table.from === "readings";
}

/** The whole storage model: what the sink creates and keeps. */
export interface StorageModel {
  tables: Record<string, Table>;
  aggregations: Record<string, Aggregation>;
  assets?: Assets;
  /** AVEVA's summary views, computed by the store from a readings table. */
  summaries?: SummariesSpec;
  /**
   * The site the rows belong to (the spec's `site`, default its name). Where a readings table
   * has a site column, the sink scopes everything it reads back, counts and recomputes to it.
   */
  site?: string;
}

/**
 * What an aggregation reads: a table, or another aggregation whose buckets it rolls up (an
 * hourly rollup of the 1-minute buckets, a daily one of the hourly).
 */
export interface AggregationInput {
  /** Column name → type. */
  columns: Record<string, string>;
  engine: string;
  /** The site column, carried from the readings table at the root. */
  site?: string;
  /** When the input is an aggregation: its bucket (ms), tag and bucket columns. */
  rollup?: { bucket: number; tag: string; time: string };
}

/** Aggregations are kept as replacing tables (a recomputed bucket replaces the old one). */
const AGGREGATION_ENGINE = "ReplacingMergeTree";

/** The input of aggregation source `from`, or undefined when it names nothing (or a cycle). */
export function aggregationInput(
  model: StorageModel,
  from: string,
  seen: string[] = [],
): AggregationInput | undefined {
  const table = model.tables[from];
  if (table) {
    return {
      columns: Object.fromEntries(Object.entries(table.columns).map(([n, c]) => [n, c.type])),
      engine: table.engine,
      site: siteColumnOf(table),
    };
  }
  const agg = model.aggregations[from];
  if (!agg || seen.includes(from)) return undefined;
  const input = aggregationInput(model, agg.from, [...seen, from]);
  if (!input) return undefined;
  return {
    columns: {
      ...(input.site ? { [input.site]: input.columns[input.site]! } : {}),
      [agg.tag_column]: input.columns[agg.tag_column] ?? "String",
      [agg.bucket_column]: "DateTime('UTC')",
      ...Object.fromEntries(Object.entries(agg.columns).map(([n, c]) => [n, c.type])),
    },
    engine: AGGREGATION_ENGINE,
    site: input.site,
    rollup: { bucket: agg.bucket, tag: agg.tag_column, time: agg.bucket_column },
  };
}

/** Aggregations with their sources first: a rollup is recomputed after what it rolls up. */
export function orderedAggregations(model: StorageModel): [string, Aggregation][] {
  const out: [string, Aggregation][] = [];
  const done = new Set<string>();
  const visit = (name: string, seen: string[]) => {
    const a = model.aggregations[name];
    if (!a || done.has(name) || seen.includes(name)) return;
    visit(a.from, [...seen, name]);
    done.add(name);
    out.push([name, a]);
  };
  for (const name of Object.keys(model.aggregations)) visit(name, []);
  return out;
}

/** The site column of a readings table (the one holding `value: site`), if any. */
export function siteColumnOf(table: Table): string | undefined {
  if (!isReadingsTable(table)) return undefined;
  return Object.entries(table.columns).find(([, c]) => c.value === "site")?.[0];
}

/**
 * The column of a readings table that stores `part` of the reading (`time`, `value`, …): not an
 * alias of it. What `stored: alias` columns read, and what `unless_value` compares with.
 */
export function storedColumnOf(table: ReadingsTable, part: string): string | undefined {
  return Object.entries(table.columns).find(([, c]) =>
    c.value === part && (c.stored === "per_row" || c.stored === "unless_value")
  )?.[0];
}
