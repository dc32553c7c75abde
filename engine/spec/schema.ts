/**
 * The root schema of a pipeline spec, composed from the engine's own sections and the option
 * schemas of the registered plugins. Every object is strict, so a typo is an error, and the
 * defaults live here, so the JSON Schema and the docs come from the same source.
 *
 * A plugin section names its plugin by key, the way Benthos does:
 *
 *   cache:
 *     redis: { url: redis://cache:6379 }
 *     fallback: memory
 *
 * and is turned into `{ plugin: "redis", options: {...}, fallback: "memory" }` after validation.
 */
import { z } from "zod";
import type { Capability, PluginDefinition, PluginKind } from "../plugin.ts";
import { parseTicks, ticksFromDate } from "../types.ts";
import type { Ticks } from "../types.ts";
import { cronProblem } from "./cron.ts";
import { duration } from "./duration.ts";
import { byteSize } from "./size.ts";
import {
  aggregation,
  aggregationInput,
  assets,
  isReadingsTable,
  summaries,
  table,
} from "./storage.ts";
import type { StorageModel, Table } from "./storage.ts";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where a plugin section sits in a spec, for messages naming the known plugins. */
export interface PluginSectionInfo {
  kind: PluginKind;
  names: string[];
}

/** A point in time as a spec states it: absolute, or relative to when the engine runs. */
export type TimeRef = { ticks: Ticks } | { agoMs: number };

export function resolveTimeRef(ref: TimeRef, now: Date): Ticks {
  return "ticks" in ref ? ref.ticks : ticksFromDate(new Date(now.getTime() - ref.agoMs));
}

export const timeRef = z.string({
  error: (i) =>
    i.input === undefined
      ? undefined
      : `expected a time such as "2024-01-01T00:00:00Z", "now" or "now-30d", got ${
        JSON.stringify(i.input)
      }`,
}).transform((text, ctx): TimeRef => {
  const rel = /^now(?:\s*-\s*(.+))?$/.exec(text.trim());
  if (rel) {
    if (rel[1] === undefined) return { agoMs: 0 };
    const ms = duration().safeParse(rel[1].trim());
    if (ms.success) return { agoMs: ms.data };
    ctx.addIssue({
      code: "custom",
      message: `invalid relative time ${
        JSON.stringify(text)
      }: expected now-<duration> such as now-30d`,
    });
    return z.NEVER;
  }
  try {
    return { ticks: parseTicks(text) };
  } catch (e) {
    ctx.addIssue({
      code: "custom",
      message: (e as Error).message.replace(/^Cannot parse/, "invalid time"),
    });
    return z.NEVER;
  }
});

const cron = z.string().superRefine((text, ctx) => {
  const problem = cronProblem(text);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      message: `invalid cron schedule ${JSON.stringify(text)}: ${problem}`,
    });
  }
});

function pluginSection<E extends z.ZodRawShape>(
  kind: PluginKind,
  plugins: readonly PluginDefinition[],
  extra: E,
) {
  const mine = plugins.filter((p) => p.kind === kind);
  const names = mine.map((p) => p.name);
  const shape: Record<string, z.core.$ZodType> = { ...extra };
  for (const p of mine) shape[p.name] = p.options.optional().describe(p.description);
  return z.strictObject(shape).superRefine((value, ctx) => {
    const chosen = names.filter((n) => value[n] !== undefined);
    if (chosen.length === 0) {
      ctx.addIssue({ code: "custom", message: `choose one ${kind} plugin: ${names.join(", ")}` });
    } else if (chosen.length > 1) {
      ctx.addIssue({
        code: "custom",
        message: `choose one ${kind} plugin, not ${chosen.join(" and ")}`,
      });
    }
  }).transform((value) => {
    const plugin = names.find((n) => value[n] !== undefined)!;
    const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !names.includes(k)));
    return { plugin, options: value[plugin] as unknown, ...rest } as
      & { plugin: string; options: unknown }
      & z.output<z.ZodObject<E>>;
  });
}

/**
 * A top-level section that the engine does not own (the API's `api:`), added by whoever
 * composes the product, so the engine imports nothing of it. `needs` names the sink
 * capabilities the section's value requires.
 */
export interface SectionDefinition {
  schema: z.ZodType;
  needs?: (value: unknown) => Capability[];
}

/** Builds the root schema for a set of plugins and extra sections, plus where its plugin sections are. */
export function specSchema(
  plugins: readonly PluginDefinition[],
  extra: Readonly<Record<string, SectionDefinition>> = {},
) {
  const sections = new Map<string, PluginSectionInfo>();
  for (const kind of ["source", "cache", "sink"] as const) {
    sections.set(kind, { kind, names: plugins.filter((p) => p.kind === kind).map((p) => p.name) });
  }

  const base = z.strictObject({
    version: z.literal(1).describe("Spec format version; always 1 for now"),
    name: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, "use letters, digits, - and _ only").default(
      "pipeline",
    )
      .describe("Pipeline name; used in logs, cache keys and state"),
    site: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, "use letters, digits, ., - and _ only")
      .optional().describe(
        "The site (plant or historian) this pipeline's rows belong to, default its name: stored in every column declared `value: site` and in the asset dimension's `source`, so several sites can share one ClickHouse (tag identity is site and tag)",
      ),
    source: pluginSection("source", plugins, {}).describe(
      "Where readings come from: one source plugin",
    ),
    cache: pluginSection("cache", plugins, {
      fallback: z.enum(["memory", "fail"]).default("memory").describe(
        "When the cache plugin is not configured or not reachable: use the built-in memory cache, or stop",
      ),
    }).prefault({ memory: {} }).describe("Tag lists and locks: one cache plugin (default: memory)"),
    sink: pluginSection("sink", plugins, {}).describe("Where readings go: one sink plugin"),
    chunking: z.strictObject({
      tags_per_query: z.int().min(1).max(1000).default(50).describe(
        "Tags read by one source query",
      ),
      window: duration({ min: 60_000 }).prefault("1d").describe(
        "Time span read by one source query during backfill",
      ),
      parallelism: z.int().min(1).max(64).default(4).describe(
        "Work units fetched at the same time",
      ),
      memory: byteSize({ min: 4 * 1024 ** 2 }).prefault("12MB").describe(
        "Readings held between source and sink, all workers together: half for batches of readings (about 200 bytes a reading, three batches a worker: one filling, one ahead, one being written), half for rows the sink holds encoded per worker to store them in fewer, larger writes",
      ),
      batch_rows: z.int().min(100).max(1_000_000).optional().describe(
        "Readings per write to the sink, overriding the size chunking.memory gives",
      ),
    }).prefault({}).describe("How the backfill splits its work"),
    backfill: z.strictObject({
      from: timeRef.describe('Start of history to load: "2024-01-01T00:00:00Z", or "now-30d"'),
      to: timeRef.prefault("now").describe(
        'End of history to load; "now" means the time the run starts',
      ),
    }).superRefine((b, ctx) => {
      if ("ticks" in b.from && "ticks" in b.to && b.from.ticks >= b.to.ticks) {
        ctx.addIssue({ code: "custom", path: ["from"], message: "must be before backfill.to" });
      }
      if ("ticks" in b.from && b.from.ticks > ticksFromDate(new Date())) {
        ctx.addIssue({
          code: "custom",
          path: ["from"],
          message:
            "is in the future: the backfill would store nothing; use a past time or now-<duration>",
        });
      }
    }).describe("The historical range to load"),
    sync: z.strictObject({
      schedule: cron.default("* * * * *").describe("Cron schedule (UTC) of incremental syncs"),
      interval: duration({ min: 1_000 }).optional().describe(
        "Sync every this long instead of on the cron schedule, for freshness of seconds",
      ),
      late_data_window: duration().prefault("1h").describe(
        "Trailing window re-read for late (store-and-forward) data",
      ),
      late_data_every: z.int().min(1).default(1).describe(
        "Re-read the late-data window on every Nth sync (the first sync after start always does)",
      ),
      safety_lag: duration().prefault("30s").describe(
        "Syncs stop this far behind the historian's clock",
      ),
      tag_list_ttl: duration({ min: 1_000 }).prefault("1h").describe(
        "How long a discovered tag list is cached",
      ),
    }).prefault({}).describe("Incremental sync"),
    tables: z.record(z.string().regex(IDENT, "use letters, digits and _ only"), table).default({})
      .describe("Tables the sink creates and keeps"),
    aggregations: z.record(z.string().regex(IDENT, "use letters, digits and _ only"), aggregation)
      .default({})
      .describe("Per-tag time-bucket aggregates, kept by the store"),
    retry: z.strictObject({
      attempts: z.int().min(1).max(100).default(8).describe(
        "Attempts of one plugin call (a write, a commit, a discovery), the first included",
      ),
      base_delay: duration().prefault("200ms").describe("Backoff before the second attempt"),
      max_delay: duration().prefault("10s").describe("Longest backoff between attempts"),
      unit_attempts: z.int().min(1).max(100).default(6).describe(
        "Reads of a unit whose source read failed, the first included",
      ),
    }).prefault({}).describe(
      "The one retry layer: backoff with jitter around every source and sink call",
    ),
    assets: assets.optional().describe("The asset model: where each tag sits in the plant"),
    summaries: summaries.optional().describe(
      "AVEVA's summary views (AnalogSummaryHistory, StateSummaryHistory), kept by the store",
    ),
  });
  const extraShape = Object.fromEntries(
    Object.entries(extra).map(([key, section]) => [key, section.schema.optional()]),
  );
  // The extra sections are typed by their owners; the engine sees them as unknown values.
  const schema = (base.extend(extraShape) as unknown as typeof base).superRefine(
    checkStorageReferences,
  );
  return { schema, sections };
}

export type Spec = z.output<ReturnType<typeof specSchema>["schema"]> & Record<string, unknown>;

/** The site a spec's rows belong to: its `site`, else its name. */
export function siteOf(spec: { site?: string; name: string }): string {
  return spec.site ?? spec.name;
}

/** The storage model a spec declares, as the sink prepares (or explains) it. */
export function storageModelOf(spec: Spec): StorageModel {
  const { tables, aggregations, assets, summaries } = spec;
  return { tables, aggregations, assets, summaries, site: siteOf(spec) };
}

/** The readings table's column holding the tag, if any. */
function tagColumnOf(table: Table): string | undefined {
  if (!isReadingsTable(table)) return undefined;
  return Object.entries(table.columns).find(([, c]) => c.value === "tag")?.[0];
}

/** The tables from `name` back to itself when it derives from itself, else undefined. */
function derivationCycle(spec: StorageModel, name: string): string[] | undefined {
  const path = [name];
  for (let t = spec.tables[name]; t && t.from !== "readings";) {
    path.push(t.from);
    if (t.from === name) return path;
    if (path.indexOf(t.from) < path.length - 1) return undefined; // a cycle, but not through name
    t = spec.tables[t.from];
  }
  return undefined;
}

/** Names used across the storage model must exist: source tables, key columns, the asset model. */
function checkStorageReferences(spec: StorageModel, ctx: z.core.$RefinementCtx) {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const names = Object.keys(spec.tables);
  for (const [name, t] of Object.entries(spec.tables)) {
    const columns = Object.keys(t.columns);
    if (t.from === "readings") {
      const site = Object.entries(t.columns).filter(([, c]) => c.value === "site").map(([n]) => n);
      if (site.length > 1) {
        issue(["tables", name, "columns", site[1]!], "only one column can hold the site");
      } else if (site.length === 1 && !t.order_by.includes(site[0]!)) {
        issue(
          ["tables", name, "order_by"],
          `must include the site column "${
            site[0]
          }" (first): sites share the table and a tag is identified by site and tag`,
        );
      }
    }
    t.order_by.forEach((c, i) => {
      if (!columns.includes(c)) {
        issue(["tables", name, "order_by", i], `column "${c}" is not declared in this table`);
      }
    });
    if (t.ttl && !columns.includes(t.ttl.column)) {
      issue(
        ["tables", name, "ttl", "column"],
        `column "${t.ttl.column}" is not declared in this table`,
      );
    }
    if (t.from !== "readings" && !names.includes(t.from)) {
      issue(
        ["tables", name, "from"],
        `unknown table "${t.from}"; declared tables: ${names.join(", ")}`,
      );
    }
    if ("join" in t && t.join === "assets" && !spec.assets) {
      issue(
        ["tables", name, "join"],
        "joins the asset model, but the spec declares no assets section",
      );
    }
    const from = t.from === "readings" ? undefined : spec.tables[t.from];
    if (from && "join" in t && t.join === "assets" && !tagColumnOf(from)) {
      issue(
        ["tables", name, "join"],
        `joins the asset model on the tag, but table ${t.from} has no tag column: join a table fed by the readings with a column \`value: tag\``,
      );
    }
    const cycle = derivationCycle(spec, name);
    if (cycle) {
      issue(
        ["tables", name, "from"],
        `tables derive from each other in a cycle: ${cycle.join(" → ")}`,
      );
    }
  }
  for (const [name, a] of Object.entries(spec.aggregations)) {
    const input = aggregationInput(spec, a.from, [name]);
    if (!input) {
      issue(
        ["aggregations", name, "from"],
        a.from in spec.aggregations
          ? `aggregations roll each other up in a cycle through "${a.from}"`
          : `unknown table or aggregation "${a.from}"; declared tables: ${
            names.join(", ")
          }; aggregations: ${Object.keys(spec.aggregations).join(", ")}`,
      );
      continue;
    }
    for (const key of ["tag_column", "time_column"] as const) {
      if (!input.rollup && !(a[key] in input.columns)) {
        issue(["aggregations", name, key], `table ${a.from} has no column "${a[key]}"`);
      }
    }
    if (input.rollup) {
      if (a.tag_column !== input.rollup.tag) {
        issue(
          ["aggregations", name, "tag_column"],
          `must be ${a.from}'s tag column "${input.rollup.tag}"`,
        );
      }
      if (a.time_column !== input.rollup.time) {
        issue(
          ["aggregations", name, "time_column"],
          `must be ${a.from}'s bucket column "${input.rollup.time}"`,
        );
      }
      if (a.bucket <= input.rollup.bucket || a.bucket % input.rollup.bucket !== 0) {
        issue(
          ["aggregations", name, "bucket"],
          `must be a multiple of ${a.from}'s bucket (${input.rollup.bucket / 1000} s), and larger`,
        );
      }
    }
  }
  if (spec.assets?.table && names.includes(spec.assets.table)) {
    issue(
      ["assets", "table"],
      `"${spec.assets.table}" is also declared under tables: the asset dimension needs a table of its own`,
    );
  }
  if (names.length > 0 && !Object.values(spec.tables).some((t) => t.from === "readings")) {
    issue(["tables"], "no table receives the readings: declare one with `from: readings`");
  }
  checkSummaries(spec, issue);
}

/** The summaries read a readings table's columns and need names of their own. */
function checkSummaries(
  spec: StorageModel,
  issue: (path: (string | number)[], message: string) => void,
) {
  const s = spec.summaries;
  if (!s) return;
  const source = spec.tables[s.from];
  if (!source || !isReadingsTable(source)) {
    const readings = Object.entries(spec.tables).filter(([, t]) => isReadingsTable(t));
    issue(
      ["summaries", "from"],
      `"${s.from}" is not a table receiving readings; such tables: ${
        readings.map(([n]) => n).join(", ") || "none"
      }`,
    );
    return;
  }
  for (const key of ["tag_column", "time_column", "value_column", "text_column"] as const) {
    const column = s[key];
    if (column !== undefined && !(column in source.columns)) {
      issue(["summaries", key], `table ${s.from} has no column "${column}"`);
    }
  }
  const taken = [...Object.keys(spec.tables), ...Object.keys(spec.aggregations)];
  if (spec.assets?.table) taken.push(spec.assets.table);
  for (const key of ["analog_table", "state_table"] as const) {
    if (taken.includes(s[key])) {
      issue(["summaries", key], `"${s[key]}" is already the name of another table`);
    }
  }
}
