/**
 * The `api:` section of a spec: the REST routes, declared, not coded. A route has typed
 * parameters, SQL with typed ClickHouse placeholders (optionally one SQL per value of a
 * parameter), and a response shape. Parameter values only ever reach ClickHouse as typed
 * query parameters.
 */
import { z } from "zod";
import { duration } from "../engine/spec/duration.ts";
import { byteSize } from "../engine/spec/size.ts";
import type { SpecStatement } from "../engine/plugin.ts";
import { checkRouteSql, placeholders, sampleParams } from "./sql_check.ts";
import { inlineLookup, keyUses } from "./lookup.ts";

const ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "use letters, digits and _ only");

export const param = z.strictObject({
  type: z.enum(["string", "string_list", "int", "float", "bool", "timestamp"]).describe(
    "timestamp: milliseconds since the epoch or ISO 8601; string_list: comma-separated or repeated",
  ),
  description: z.string().default(""),
  required: z.boolean().default(false),
  default: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]).optional(),
  enum: z.array(z.string()).min(1).optional().describe("Allowed values (string parameters)"),
  min: z.number().optional().describe("Smallest value (numbers), or fewest items (string lists)"),
  max: z.number().optional().describe(
    "Largest value (numbers), longest text, or most items (string lists)",
  ),
});

/**
 * Resolution by fit, as the Historian's BestFit retrieval: for `value`, the request's bucket
 * width is (to − from) / (points / per_bucket) in ms, and the SQL used is the level with the
 * widest bucket that is not wider than that (so a range with few points per bucket reads raw).
 * The choice is made before the query, so ClickHouse plans only the SQL that is needed.
 */
const bucketFit = z.strictObject({
  value: z.string().describe("The value of `by` that picks by fit, such as auto"),
  from: ident.describe("The timestamp parameter where the range starts"),
  to: ident.describe("The timestamp parameter where the range ends"),
  points: ident.describe("The int parameter with the most points per series"),
  per_bucket: z.int().min(1).default(1).describe("Points each bucket yields at most"),
  levels: z.record(z.string(), duration()).refine((l) => Object.keys(l).length > 0, {
    message: "give at least one level",
  }).describe("Variant SQL → the width of the buckets it reads (0s for raw readings)"),
  raw_tags: z.strictObject({
    param: ident.describe("The string_list parameter with the tags"),
    sql: z.string().min(1).describe("SQL without parameters whose first column lists the tags"),
    memo: duration({ min: 100 }).prefault("30s").describe("How long its answer is reused"),
  }).optional().describe(
    "Tags the finest level always reads (such as text tags, which have no minimum or maximum): " +
      "the request is split and the series of both parts are merged",
  ),
});

/** A small table joined with the route's result in the API (api/lookup.ts). */
const lookup = z.strictObject({
  sql: z.string().min(1).describe("SQL without parameters whose rows are the small table"),
  match: z.record(ident, ident).default({}).describe(
    "Column → string parameter: a request keeps the rows whose column equals the parameter " +
      "(all rows when the parameter is not given)",
  ),
  key: ident.describe("The column of the lookup and of the route's result the rows match on"),
  param: ident.describe(
    "The lookup's keys reach the route's SQL as IN {param:Array(String)}",
  ),
  memo: duration({ min: 100 }).prefault("30s").describe(
    "How long its answer is reused",
  ),
});

export const route = z.strictObject({
  description: z.string().default(""),
  params: z.record(ident, param).default({}),
  lookup: lookup.optional().describe(
    "A small table (such as the asset dimension) read in a query of its own and memoized, whose " +
      "keys filter the route's SQL and whose other columns are added to each row by key",
  ),
  sql: z.string().min(1).optional().describe(
    "SQL with {name:Type} placeholders for the parameters",
  ),
  variants: z.strictObject({
    by: ident.describe("The parameter that picks the SQL"),
    sql: z.record(z.string(), z.string().min(1)).describe(
      "SQL per value of that parameter (and per level of `fit`)",
    ),
    fit: bucketFit.optional().describe(
      "One value of `by` that picks the SQL by the bucket width the request implies",
    ),
  }).optional(),
  columns: z.record(
    ident,
    z.strictObject({
      type: z.enum(["string", "integer", "number", "boolean", "time", "array"]).describe(
        "JSON type of the column; time: ISO 8601 text with its zone; array: of objects (a grouped array of named tuples)",
      ),
      description: z.string().default(""),
      nullable: z.boolean().default(false),
    }),
  ).optional().describe(
    "The result's columns, for the OpenAPI document (rows and object responses)",
  ),
  response: z.enum(["rows", "object", "series"]).default("rows").describe(
    "rows: a JSON array; object: the first row; series: [{target, datapoints: [[value, ts_ms], ...]}]",
  ),
  health: z.boolean().default(false).describe(
    "Add the engine's health (sync, backfill, errors) to an object response",
  ),
  cache_control: z.string().default("no-store"),
  timeout: duration({ min: 100 }).prefault("10s").describe(
    "How long a request may take, waiting for a query slot included; past it the query is " +
      "cancelled in the store and the request gets 504",
  ),
  memo: duration({ min: 100 }).optional().describe(
    "Answer from the last result while it is this fresh; up to twice as old it is still answered while it refreshes in the background, older it is computed first (status routes)",
  ),
  max_rows: z.int().min(1).default(100_000).describe("Result-size cap, in rows"),
  max_bytes: byteSize({ min: 1024 ** 2 }).prefault("64MB").describe(
    "Result-size cap, in bytes as the store holds the result (max_result_bytes); past either " +
      "cap a request gets 422",
  ),
  max_memory: byteSize({ min: 16 * 1024 ** 2 }).prefault("1GB").describe(
    "Memory one query of the route may use in the store (max_memory_usage); past it a request " +
      "gets 422",
  ),
}).superRefine((r, ctx) => {
  if (!r.sql === !r.variants) {
    ctx.addIssue({ code: "custom", message: "give either sql or variants" });
  }
  const sqls: [(string | number)[], string][] = r.sql
    ? [[["sql"], r.sql]]
    : Object.entries(r.variants?.sql ?? {}).map(([v, sql]) => [["variants", "sql", v], sql]);
  const fit = r.variants?.fit;
  const elsewhere = [r.variants?.by, fit?.from, fit?.to, fit?.points].filter((p) =>
    p !== undefined
  );
  const keys = r.lookup?.param;
  const withKeys: Record<string, ParamSpec> = keys
    ? { ...r.params, [keys]: { type: "string_list", description: "", required: false } }
    : r.params;
  const matched = Object.values(r.lookup?.match ?? {});
  for (const issue of checkRouteSql(sqls, withKeys, [...elsewhere, ...matched])) {
    if (keys && issue.path[0] === "params" && issue.path[1] === keys) continue;
    ctx.addIssue({ code: "custom", path: [...issue.path], message: issue.message });
  }
  if (r.lookup) lookupIssues(r, sqls, ctx);
  if (r.variants) {
    const by = r.params[r.variants.by];
    if (!by) {
      ctx.addIssue({
        code: "custom",
        path: ["variants", "by"],
        message: `"${r.variants.by}" is not a parameter of this route`,
      });
    } else if (!by.enum) {
      ctx.addIssue({
        code: "custom",
        path: ["variants", "by"],
        message: "the parameter needs an enum, one value per SQL",
      });
    } else {
      const reached = new Set([...by.enum, ...Object.keys(fit?.levels ?? {})]);
      if (fit) {
        reached.delete(fit.value);
        if (!by.enum.includes(fit.value)) {
          ctx.addIssue({
            code: "custom",
            path: ["variants", "fit", "value"],
            message: `"${fit.value}" is not a value of "${r.variants.by}" (${by.enum.join(", ")})`,
          });
        }
        const kinds: [string[], string, ParamSpec["type"]][] = [
          [["from"], fit.from, "timestamp"],
          [["to"], fit.to, "timestamp"],
          [["points"], fit.points, "int"],
        ];
        if (fit.raw_tags) kinds.push([["raw_tags", "param"], fit.raw_tags.param, "string_list"]);
        for (const [at, name, type] of kinds) {
          if (r.params[name]?.type !== type) {
            ctx.addIssue({
              code: "custom",
              path: ["variants", "fit", ...at],
              message: `"${name}" is not a ${type} parameter of this route`,
            });
          }
        }
        if (fit.raw_tags) {
          const at = ["variants", "fit", "raw_tags", "sql"];
          for (const issue of checkRouteSql([[at, fit.raw_tags.sql]], {})) {
            ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
          }
          if (r.response !== "series") {
            ctx.addIssue({
              code: "custom",
              path: ["variants", "fit", "raw_tags"],
              message: "splits a request by tag, so the route needs response: series",
            });
          }
        }
      }
      for (const v of reached) {
        if (!(v in r.variants.sql)) {
          ctx.addIssue({ code: "custom", path: ["variants", "sql"], message: `no SQL for "${v}"` });
        }
      }
      for (const v of Object.keys(r.variants.sql)) {
        if (!reached.has(v)) {
          ctx.addIssue({
            code: "custom",
            path: ["variants", "sql", v],
            message: `no value of "${r.variants.by}" and no level of fit picks this SQL`,
          });
        }
      }
    }
  }
});

/** What a route's lookup needs of the route: its keys used as IN {param:Array(String)}. */
function lookupIssues(
  r: { params: Record<string, ParamSpec>; response: string; lookup?: z.output<typeof lookup> },
  sqls: [(string | number)[], string][],
  ctx: z.RefinementCtx,
) {
  const { param } = r.lookup!;
  const at = (...path: (string | number)[]) => ["lookup", ...path];
  if (param in r.params) {
    ctx.addIssue({
      code: "custom",
      path: at("param"),
      message: `"${param}" is also a declared parameter; the lookup fills it, a request cannot`,
    });
  }
  for (const { name, type } of placeholders(r.lookup!.sql)) {
    ctx.addIssue({
      code: "custom",
      path: at("sql"),
      message: `uses {${name}:${type}}: a lookup's SQL takes no parameters (its answer is ` +
        "reused for every request); filter by a request's parameters with lookup.match",
    });
  }
  for (const issue of checkRouteSql([[at("sql"), r.lookup!.sql]], {})) {
    if (!/not a declared parameter/.test(issue.message)) {
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    }
  }
  for (const [column, name] of Object.entries(r.lookup!.match)) {
    if (r.params[name]?.type !== "string") {
      ctx.addIssue({
        code: "custom",
        path: at("match", column),
        message: `"${name}" is not a string parameter of this route`,
      });
    }
  }
  if (r.response !== "rows") {
    ctx.addIssue({
      code: "custom",
      path: at(),
      message: "adds columns to each row, so the route needs response: rows",
    });
  }
  for (const [path, sql] of sqls) {
    const { asIn, all } = keyUses(sql, param);
    if (asIn === 0 || asIn !== all) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `use the lookup's keys as IN {${param}:Array(String)}${
          asIn === 0 ? " to filter the rows" : " only"
        }: keys too many for a query parameter are replaced by the lookup as a subquery`,
      });
    }
  }
}

export const api = z.strictObject({
  port: z.int().min(0).max(65535).default(4000).describe(
    "HTTP port (API_PORT in the shipped spec)",
  ),
  hostname: z.string().default("127.0.0.1").describe(
    "Address to listen on; 0.0.0.0 for every interface",
  ),
  token: z.string().default("").describe("When set, requests need Authorization: Bearer <token>"),
  cors: z.array(z.string()).default([]).describe("Origins allowed to call the API from a browser"),
  max_concurrent_queries: z.int().min(1).max(256).default(4).describe(
    "Declared queries running at once; the rest wait in the queue",
  ),
  max_queued_queries: z.int().min(0).max(10_000).default(32).describe(
    "Queries waiting for a slot; past this a request gets 503 with Retry-After",
  ),
  routes: z.record(
    z.string().regex(/^\/[A-Za-z0-9_/-]*$/, "a path such as /consumption/machine"),
    route,
  )
    .default({}),
  page: z.strictObject({
    status: z.string().describe("The route with health: true (totals and the engine's health)"),
    series: z.string().describe("A series route taking tags, start_ts, end_ts, max_data_points"),
    tags: z.string().describe("A rows route taking search and limit, answering tag and points"),
    minutes: z.string().describe(
      "A rows route taking tag, start_ts, end_ts, answering t, avg, min, max",
    ),
  }).optional().describe("The status page at / and the routes it reads"),
}).superRefine((a, ctx) => {
  for (const [key, path] of Object.entries(a.page ?? {})) {
    if (!(path in a.routes)) {
      ctx.addIssue({
        code: "custom",
        path: ["page", key],
        message: `"${path}" is not a declared route`,
      });
    }
  }
});

export type ApiSpec = z.output<typeof api>;
export type RouteSpec = z.output<typeof route>;
export type ParamSpec = z.output<typeof param>;
export type ColumnSpec = NonNullable<RouteSpec["columns"]>[string];

/** The `api:` section as the engine composes it: a schema and the sink capability it needs. */
export const apiSection = {
  schema: api.describe("REST routes generated from declarations (api/)"),
  needs: (value: unknown) =>
    Object.keys((value as ApiSpec).routes ?? {}).length > 0 ? ["query" as const] : [],
};

/** The validated `api:` section of a spec, if it has one. */
export function apiOf(spec: Record<string, unknown>): ApiSpec | undefined {
  return spec.api as ApiSpec | undefined;
}

/** Every route's SQL (each variant too) with sample parameter values, for `validate --connect`. */
export function routeStatements(api: ApiSpec): SpecStatement[] {
  return Object.entries(api.routes).flatMap(([path, route]) => {
    const params = sampleParams(route.params);
    const sqls: [(string | number)[], string][] = route.sql
      ? [[["sql"], route.sql]]
      : Object.entries(route.variants?.sql ?? {}).map(([v, sql]) => [["variants", "sql", v], sql]);
    const rawTags = route.variants?.fit?.raw_tags;
    const lookups: SpecStatement[] = rawTags
      ? [{
        path: ["api", "routes", path, "variants", "fit", "raw_tags", "sql"],
        sql: rawTags.sql,
        params: {},
      }]
      : [];
    const lookup = route.lookup;
    if (lookup) {
      // The lookup itself, and each SQL as it runs when the keys are too many to send.
      lookups.push({ path: ["api", "routes", path, "lookup", "sql"], sql: lookup.sql, params: {} });
      for (const [at, sql] of sqls) {
        lookups.push({
          path: ["api", "routes", path, ...at],
          sql: inlineLookup(sql, lookup),
          params,
        });
      }
    }
    const keys = lookup ? { [lookup.param]: ["x"] } : {};
    return [
      ...sqls.map(([at, sql]) => ({
        path: ["api", "routes", path, ...at],
        sql,
        params: { ...params, ...keys },
      })),
      ...lookups,
    ];
  });
}
